"""Header checks done during the ingest request, and what is acknowledged."""

from __future__ import annotations

import base64
import gzip
import random

import pytest

from tests.ingest_helpers import (
    INGEST_HEADERS,
    gz,
    message_event,
    post_batch,
    wait_for_outcome,
)


async def test_valid_batch_gets_batch_id(server, http):
    status, payload = await post_batch(http, server.url, gz([message_event("reception", "1")]))
    assert status == 200
    batch_id = payload["results"]["id"]
    assert len(batch_id) == 36
    assert batch_id[14] == "4"  # UUID version 4
    outcome = await wait_for_outcome(http, server.url, batch_id)
    assert outcome["type"] == "success"


async def test_missing_authorization_is_401(server, http):
    headers = {k: v for k, v in INGEST_HEADERS.items() if k != "Authorization"}
    status, payload = await post_batch(http, server.url, gz([]), headers)
    assert status == 401
    assert payload["errors"][0]["message"] == "Unauthorized."


async def test_bearer_scheme_is_401(server, http):
    headers = {**INGEST_HEADERS, "Authorization": "Bearer abc"}
    status, _ = await post_batch(http, server.url, gz([]), headers)
    assert status == 401


async def test_strict_keys_reject_unknown_key(start_server, http):
    server = await start_server(api_keys=("good-key",))
    status, payload = await post_batch(http, server.url, gz([]), {**INGEST_HEADERS, "Authorization": "bad-key"})
    assert status == 401
    assert "errors" in payload
    status, _ = await post_batch(http, server.url, gz([]), {**INGEST_HEADERS, "Authorization": "good-key"})
    assert status == 200


async def test_basic_auth_with_key_as_user(start_server, http):
    server = await start_server(api_keys=("good-key",))
    token = base64.b64encode(b"good-key:").decode()
    status, _ = await post_batch(http, server.url, gz([]), {**INGEST_HEADERS, "Authorization": f"Basic {token}"})
    assert status == 200


async def test_wrong_content_type_is_415(server, http):
    status, payload = await post_batch(http, server.url, gz([]), {**INGEST_HEADERS, "Content-Type": "application/json"})
    assert status == 415
    assert payload["errors"][0]["code"] == "1700"


async def test_missing_content_encoding_is_400(server, http):
    headers = {k: v for k, v in INGEST_HEADERS.items() if k != "Content-Encoding"}
    status, payload = await post_batch(http, server.url, gz([]), headers)
    assert status == 400
    assert "gzip" in payload["errors"][0]["message"]


async def test_wrong_method_is_405_in_sparkpost_shape(server, http):
    async with http.get(server.url + "/api/v1/ingest/events", headers=INGEST_HEADERS) as response:
        assert response.status == 405
        payload = await response.json()
    assert "not allowed" in payload["errors"][0]["message"]


async def test_body_near_limit_is_accepted(server, http):
    # 4.5 MB of incompressible bytes: accepted at request time, judged later.
    body = random.Random(5).randbytes(4_500_000)
    status, payload = await post_batch(http, server.url, body)
    assert status == 200
    outcome = await wait_for_outcome(http, server.url, payload["results"]["id"])
    assert outcome["error_type"] == "decompress"


async def test_body_over_limit_is_413(server, http):
    body = random.Random(6).randbytes(5_500_000)
    status, payload = await post_batch(http, server.url, body)
    assert status == 413
    assert payload["errors"][0]["message"] == "request too large"


async def test_chunked_body_over_limit_is_413(server, http):
    async def chunks():
        block = b"\0" * 65536
        for _ in range(90):  # 5.6 MiB without a Content-Length
            yield block

    async with http.post(server.url + "/api/v1/ingest/events", data=chunks(), headers=INGEST_HEADERS) as response:
        assert response.status == 413


@pytest.mark.parametrize(
    "body",
    [bytes.fromhex("1f8b0800"), b"not gzip at all", gzip.compress(b"", mtime=0)],
    ids=["truncated-gzip", "plain-text", "empty-gzip"],
)
async def test_broken_bodies_are_acknowledged(server, http, body):
    # aiohttp must not gunzip or reject the body: the outcome is reported later.
    status, payload = await post_batch(http, server.url, body)
    assert status == 200
    assert payload["results"]["id"]


async def test_acknowledged_batch_downloads_byte_for_byte(server, http):
    body = gz([message_event("reception", "1")])
    _, payload = await post_batch(http, server.url, body)
    batch_id = payload["results"]["id"]
    async with http.get(f"{server.url}/api/v1/ingest/events/{batch_id}", headers={"Authorization": "k"}) as response:
        assert response.status == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="{batch_id}.gz"'
        assert await response.read() == body


async def test_unknown_batch_is_404(server, http):
    for path in ("/api/v1/ingest/events/no-such-batch", "/api/v1/ingest/events/failures/no-such-batch"):
        async with http.get(server.url + path, headers={"Authorization": "k"}) as response:
            assert response.status == 404
            payload = await response.json()
        assert payload == {"errors": [{"message": "resource not found", "description": "No ingest batch with id 'no-such-batch'."}]}


async def test_trailing_slash_is_ignored(server, http):
    async with http.post(server.url + "/api/v1/ingest/events/", data=gz([]), headers=INGEST_HEADERS) as response:
        assert response.status == 200
    async with http.get(server.url + "/api/v1/events/message/", headers={"Authorization": "k"}) as response:
        assert response.status == 200


async def test_strict_keys_guard_read_side(start_server, http):
    server = await start_server(api_keys=("good-key",))
    paths = ["/api/v1/events/message", "/api/v1/events/ingest", "/api/v1/ingest/events/failures/x", "/api/v1/ingest/events/x"]
    for path in paths:
        async with http.get(server.url + path, headers={"Authorization": "bad-key"}) as response:
            assert response.status == 401, path
    async with http.get(server.url + "/api/v1/events/message", headers={"Authorization": "good-key"}) as response:
        assert response.status == 200


async def test_any_key_is_recorded_as_fingerprint(server, http):
    status, payload = await post_batch(http, server.url, gz([]), {**INGEST_HEADERS, "Authorization": "my-secret-key"})
    assert status == 200
    info = await server.store.call("batch_info", payload["results"]["id"])
    assert info["key_fingerprint"]
    assert "my-secret-key" not in info["key_fingerprint"]
