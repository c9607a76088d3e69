"""Tracked-link codec: the real SparkPost sample, round trips and malformed tokens."""

from __future__ import annotations

import base64
import random

import pytest

from emulator.tracking.codec import (
    TokenError,
    TrackedLink,
    compute_signature,
    decode_path,
    decode_url,
    encode_path,
    is_tracking_path,
)
from tests.tracking_helpers import (
    SAMPLE_EXPIRES_AT,
    SAMPLE_MESSAGE_ID,
    SAMPLE_RECIPIENT,
    path_of,
    sample_links,
)

SECRET = b"codec-test-secret"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").replace("=", "~")


def signed_path(data: bytes, prefix: str = "/q/", account: bytes = b"\x00\x00\x00\x07\x00") -> str:
    """Build a path around a hand-made DATA segment, signed with SECRET."""
    signature = compute_signature(SECRET, account, data)
    return prefix + "/".join((b64(signature), b64(account), b64(data)))


@pytest.mark.parametrize("action", ["initial_open", "click", "open"])
def test_sample_links_decode(action: str) -> None:
    link = decode_url(sample_links()[action])
    assert link.action == action
    assert link.message_id == SAMPLE_MESSAGE_ID
    assert link.recipient == SAMPLE_RECIPIENT
    assert link.customer_id == 1
    assert link.subaccount_id == 26
    assert link.tenant == "demo"
    assert link.expires_at == SAMPLE_EXPIRES_AT
    assert link.signature_valid is None
    if action == "click":
        assert link.target_url == "http://example.com/index.html"
        assert link.link_name == "More Daily News"
    else:
        assert link.target_url is None
        assert link.link_name is None


def test_sample_links_reencode_identically() -> None:
    for url in sample_links().values():
        path = path_of(url)
        link = decode_path(path)
        encoded = encode_path(link, SECRET)
        # The signature differs (SparkPost's key is unknown); ACCT and DATA match byte for byte.
        assert encoded.split("/")[-2:] == path.split("/")[-2:]
        assert encoded.startswith("/f/a/" if link.action == "click" else "/q/")


def test_sample_signature_unverifiable() -> None:
    link = decode_url(sample_links()["click"], SECRET)
    assert link.signature_valid is False


def test_round_trip_all_fields() -> None:
    link = TrackedLink(
        action="click",
        message_id="0000aabbccdd00112233",
        recipient="Üser@example.com",
        target_url="https://example.com/a%20b?x=1&y=%C3%A9#frag",
        link_name="Spring offer ✓",
        customer_id=4242,
        subaccount_id=0,
        tenant="t1",
        expires_at=2_000_000_000,
    )
    decoded = decode_path(encode_path(link, SECRET), SECRET)
    assert decoded == TrackedLink(**{**link.__dict__, "signature_valid": True})


def test_round_trip_custom_message_id() -> None:
    link = TrackedLink(action="open", message_id="<abc-123@mta.example.com>", recipient="a@example.com")
    decoded = decode_path(encode_path(link, SECRET), SECRET)
    assert decoded.message_id == "<abc-123@mta.example.com>"
    assert decoded.customer_id is None
    assert decoded.expires_at is None


def test_upper_case_hex_id_kept_verbatim() -> None:
    link = TrackedLink(action="open", message_id="0000AABBCCDD00112233", recipient="a@example.com")
    assert decode_path(encode_path(link, SECRET)).message_id == "0000AABBCCDD00112233"


def test_long_target_round_trip() -> None:
    target = "https://example.com/?q=" + "x" * 4000
    link = TrackedLink(action="click", message_id="m", recipient="r@example.com", target_url=target)
    assert decode_path(encode_path(link, SECRET)).target_url == target


def test_wrong_secret_invalid() -> None:
    path = encode_path(TrackedLink(action="open", message_id="m", recipient="r@example.com"), SECRET)
    assert decode_path(path, SECRET).signature_valid is True
    assert decode_path(path, b"other").signature_valid is False
    assert decode_path(path).signature_valid is None


def test_tampered_data_invalid() -> None:
    path = encode_path(TrackedLink(action="click", message_id="m", recipient="r@example.com", target_url="https://a.example/"), SECRET)
    prefix, data = path.rsplit("/", 1)
    raw = base64.urlsafe_b64decode(data.replace("~", "="))
    tampered = raw.replace(b"https://a.example/", b"https://b.example/")
    assert decode_path(prefix + "/" + b64(tampered), SECRET).signature_valid is False


def test_records_in_any_order() -> None:
    data = b"R\x0dr@example.com" + b"B\x0a" + bytes.fromhex("0000aabbccdd00112233") + b"X\x04\x00\x00\x00\x05" + b">"
    link = decode_path(signed_path(data), SECRET)
    assert link.action == "open"
    assert link.recipient == "r@example.com"
    assert link.message_id == "0000aabbccdd00112233"
    assert link.subaccount_id == 5
    assert link.customer_id == 7
    assert link.signature_valid is True


def test_unknown_tags_skipped() -> None:
    data = b"Z\x03abc" + b"=" + b"\x01\x00" + b"B\x01\x01" + b"\xfe\x02\xff\xff" + b"R\x01r"
    link = decode_path(signed_path(data))
    assert link.action == "initial_open"
    assert link.message_id == "01"
    assert link.recipient == "r"


def test_unpadded_and_percent_encoded_segments() -> None:
    path = encode_path(TrackedLink(action="open", message_id="m", recipient="r@example.com"), SECRET)
    assert decode_path(path.replace("~", ""), SECRET).signature_valid is True
    assert decode_path(path.replace("~", "="), SECRET).signature_valid is True
    url = "https://track.example.com" + path.replace("~", "%7E") + "?utm=1#top"
    assert decode_url(url, SECRET).signature_valid is True


def test_click_deep_link_sublink_path() -> None:
    path = encode_path(TrackedLink(action="click", message_id="m", recipient="r", target_url="https://a/"), SECRET)
    sublink = path.replace("/f/a/", "/f/open-in-app/")
    assert decode_path(sublink, SECRET).target_url == "https://a/"


def test_is_tracking_path() -> None:
    assert is_tracking_path("/q/abc")
    assert is_tracking_path("/f/a/abc")
    assert is_tracking_path("/f/a")
    assert not is_tracking_path("/api/v1/events/message")
    assert not is_tracking_path("/q")
    assert not is_tracking_path("/quit")


SIG = b64(bytes(16))
ACCT = b64(b"\x00\x00\x00\x01\x00")
OPEN_DATA = b64(b">B\x01\x01R\x01r")


def q_data(data: bytes) -> str:
    return f"/q/{SIG}/{ACCT}/{b64(data)}"


MALFORMED_PATHS = [
    ("", "must start with"),
    ("/x/a/b/c", "must start with"),
    ("/q/", "3 token segments"),
    ("/q/~~~~", "3 token segments"),
    (f"/q/{SIG}/{ACCT}", "3 token segments"),
    (f"/q/{SIG}/{ACCT}/{OPEN_DATA}/extra", "3 token segments"),
    (f"/f/a/b/{SIG}/{ACCT}/{OPEN_DATA}", "3 token segments"),
    (f"/q/{SIG}/{ACCT}/abc$def", "URL-safe base64"),
    (f"/q/{SIG}/{ACCT}/abcde", "impossible base64 length"),
    (f"/q/{SIG}/{ACCT}/é", "URL-safe base64"),
    (f"/q/{b64(bytes(15))}/{ACCT}/{OPEN_DATA}", "SIG segment must be 16 bytes"),
    ("/q/" + SIG + "/" + b64(b"\x00\x01") + "/" + OPEN_DATA, "ACCT segment must be at least 4 bytes"),
    (f"/q/{SIG}/{ACCT}/", "DATA segment is empty"),
    (q_data(b'B\x01\x01R\x01r'), "no action flag"),
    (q_data(b'>?B\x01\x01'), "more than one action flag"),
    (q_data(b'?D\x01xB\x01\x01'), "click token under the /q/ path"),
    (f"/f/a/{SIG}/{ACCT}/{OPEN_DATA}", "open token under the /f/ path"),
    (q_data(b'>R\x09short'), "needs 9 bytes"),
    (q_data(b'>R'), "ends inside a record length"),
    (q_data(b'>R\xff\xff\xff\xff\x01'), "longer than 3 bytes"),
    (q_data(b'>R\xff\xff\x7f'), "above the"),
    (q_data(b'>F\x02\x00\x01'), "must be 4 bytes"),
    (q_data(b'>X\x05\x00\x00\x00\x00\x01'), "must be 4 bytes"),
    (q_data(b'>B\x00'), "message id record is empty"),
    (q_data(b'>R\x02\xff\xfe'), "not valid UTF-8"),
]


@pytest.mark.parametrize(("path", "message"), MALFORMED_PATHS)
def test_malformed_path_rejected(path: str, message: str) -> None:
    with pytest.raises(TokenError, match=message):
        decode_path(path, SECRET)


@pytest.mark.parametrize("value", [None, 42, b"/q/abc"])
def test_non_string_input_rejected(value: object) -> None:
    with pytest.raises(TokenError):
        decode_path(value)  # type: ignore[arg-type]
    with pytest.raises(TokenError):
        decode_url(value)  # type: ignore[arg-type]


def test_invalid_url_rejected() -> None:
    with pytest.raises(TokenError, match="invalid URL"):
        decode_url("http://[::1/q/a/b/c")


def test_every_truncation_rejected_or_decoded() -> None:
    path = path_of(sample_links()["click"])
    prefix, data = path.rsplit("/", 1)
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    for cut in range(len(raw)):
        truncated = prefix + "/" + b64(raw[:cut])
        try:
            link = decode_path(truncated)
        except TokenError:
            continue
        # A cut exactly between records leaves a shorter valid token.
        assert link.action == "click"


def test_fuzzed_tokens_raise_only_token_error() -> None:
    generator = random.Random(20260604)
    seeds = [path_of(url) for url in sample_links().values()]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~/=%é"
    outcomes = {"decoded": 0, "rejected": 0}
    for _ in range(3000):
        path = list(generator.choice(seeds))
        for _ in range(generator.randint(1, 6)):
            position = generator.randrange(len(path))
            operation = generator.random()
            if operation < 0.4:
                path[position] = generator.choice(alphabet)
            elif operation < 0.7:
                del path[position]
            else:
                path.insert(position, generator.choice(alphabet))
        text = "".join(path)
        try:
            decode_path(text, SECRET)
            outcomes["decoded"] += 1
        except TokenError:
            outcomes["rejected"] += 1
    for _ in range(1000):
        data = bytes(generator.randrange(256) for _ in range(generator.randint(0, 60)))
        try:
            decode_path(f"/q/{SIG}/{ACCT}/{b64(data)}")
            outcomes["decoded"] += 1
        except TokenError:
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0
    assert outcomes["decoded"] > 0


@pytest.mark.parametrize(
    ("link", "message"),
    [
        (TrackedLink(action="view", message_id="m", recipient="r"), "unknown action"),
        (TrackedLink(action="click", message_id="m", recipient="r"), "needs a target URL"),
        (TrackedLink(action="open", message_id="m", recipient="r", subaccount_id=1 << 32), "32 bits"),
        (TrackedLink(action="open", message_id="m", recipient="r", customer_id=-1), "32 bits"),
    ],
)
def test_encode_rejects_unrepresentable(link: TrackedLink, message: str) -> None:
    with pytest.raises(TokenError, match=message):
        encode_path(link, SECRET)
