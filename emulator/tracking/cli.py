"""``emulator wrap`` and ``emulator decode-link``."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Mapping
from typing import cast

from emulator.config import DEFAULT_HOST, DEFAULT_PORT, env_value
from emulator.tracking.codec import TokenError, TrackedLink, decode_url
from emulator.tracking.options import add_secret_argument, signing_key
from emulator.tracking.wrap import WrapError, WrapOptions, looks_like_message, wrap_html, wrap_message

_LINK_FIELDS = (
    "action", "message_id", "recipient", "target_url", "link_name",
    "customer_id", "subaccount_id", "tenant", "expires_at",
)


def add_commands(subparsers: argparse._SubParsersAction, env: Mapping[str, str]) -> None:
    """Register ``wrap`` and ``decode-link``."""
    _add_wrap(subparsers, env)
    _add_decode_link(subparsers, env)


def _add_seed_argument(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    parser.add_argument(
        "--seed",
        type=int,
        default=env_value(env, "--seed", None, int),
        help="the --seed the emulator runs with; without --tracking-secret the key is derived from it",
    )


def _default_tracking_domain(env: Mapping[str, str]) -> str:
    host = env_value(env, "--host", DEFAULT_HOST, str)
    port = env_value(env, "--port", DEFAULT_PORT, int)
    host_in_url = f"[{host}]" if ":" in host else host
    return f"http://{host_in_url}:{port}"


def _add_wrap(subparsers: argparse._SubParsersAction, env: Mapping[str, str]) -> None:
    parser = subparsers.add_parser(
        "wrap",
        help="add SparkPost-style open and click tracking to HTML or a message",
        description="Read an HTML part or a whole message from FILE (or standard input) and write it "
        "with an initial-open pixel at the top, an open pixel at the bottom and every http(s) link "
        "rewritten to a signed click link on the tracking domain.",
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="input file (default: standard input)")

    parser.add_argument(
        "--message-id",
        help="message id the links carry (default for a message: its X-Sp-Message-Id or Message-ID header)",
    )
    parser.add_argument("--recipient", help="recipient address the links carry (default for a message: its To header)")
    parser.add_argument(
        "--tracking-domain",
        default=env_value(env, "--tracking-domain", None, str),
        help="HOST, HOST:PORT or http(s)://HOST[:PORT] of the tracking links "
        "(default: the emulator's address from EMULATOR_HOST and EMULATOR_PORT, else "
        "http://127.0.0.1:8080)",
    )

    add_secret_argument(parser, env)
    _add_seed_argument(parser, env)

    parser.add_argument("--customer-id", type=int, help="customer (account) id the links carry")
    parser.add_argument("--subaccount-id", type=int, help="subaccount id the links carry")
    parser.add_argument("--tenant", help="tenant id the links carry")
    parser.add_argument(
        "--input",
        choices=("auto", "html", "message"),
        default="auto",
        help="input kind; auto treats input that starts with a header field as a message (default auto)",
    )

    parser.add_argument("--no-initial-open", action="store_true", help="leave out the top (initial-open) pixel")
    parser.add_argument("--no-open", action="store_true", help="leave out the bottom (open) pixel")
    parser.add_argument("--no-click", action="store_true", help="leave links unchanged")
    parser.set_defaults(handler=_run_wrap)


def _read_input(path: str | None) -> bytes:
    if path is None or path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as file:
        return file.read()


def _run_wrap(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if not args.tracking_secret and args.seed is None:
        sys.stderr.write(
            "emulator wrap: warning: no --tracking-secret or --seed, so the links are signed with a "
            "random key; the emulator records them as unsigned and --strict-tracking rejects them\n"
        )
    options = WrapOptions(
        tracking_url=args.tracking_domain or _default_tracking_domain(env),
        secret=signing_key(args.tracking_secret, args.seed),
        message_id=args.message_id,
        recipient=args.recipient,
        customer_id=args.customer_id,
        subaccount_id=args.subaccount_id,
        tenant=args.tenant,
        initial_open=not args.no_initial_open,
        open=not args.no_open,
        click=not args.no_click,
    )
    try:
        data = _read_input(args.file)
        is_message = args.input == "message" or (args.input == "auto" and looks_like_message(data))
        if is_message:
            output = cast(bytes, wrap_message(data, options))  # bytes in, bytes out
        else:
            html = data.decode("utf-8", errors="surrogateescape")
            output = wrap_html(html, options).encode("utf-8", errors="surrogateescape")
    except OSError as exc:
        sys.stderr.write(f"emulator wrap: failed to read {args.file}: {exc.strerror or exc}\n")
        return 1
    except (WrapError, TokenError) as exc:
        sys.stderr.write(f"emulator wrap: {exc}\n")
        return 2
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return 0


def _add_decode_link(subparsers: argparse._SubParsersAction, env: Mapping[str, str]) -> None:
    parser = subparsers.add_parser(
        "decode-link",
        help="show what a SparkPost-format tracked link contains",
        description="Decode tracked open (/q/...) and click (/f/a/...) URLs from any host. "
        "With --tracking-secret (or --seed) the signature is checked too.",
    )
    parser.add_argument("urls", nargs="+", metavar="URL", help="tracked URL or path")
    parser.add_argument("--json", action="store_true", help="print one JSON object per URL")
    add_secret_argument(parser, env)
    _add_seed_argument(parser, env)
    parser.set_defaults(handler=_run_decode_link)


def _expiry_text(expires_at: int) -> str:
    moment = dt.datetime.fromtimestamp(expires_at, dt.UTC)
    return f"{expires_at} ({moment.strftime('%Y-%m-%dT%H:%M:%SZ')})"


def _signature_text(valid: bool | None) -> str:
    if valid is None:
        return "not checked (pass --tracking-secret or --seed)"
    return "valid" if valid else "invalid for this key (real SparkPost links never verify)"


def _readable(url: str, link: TrackedLink) -> str:
    lines = [f"url: {url}"]
    for name in _LINK_FIELDS:
        value = getattr(link, name)
        if value is None:
            continue
        lines.append(f"{name}: {_expiry_text(value) if name == 'expires_at' else value}")
    lines.append(f"signature: {_signature_text(link.signature_valid)}")
    return "\n".join(lines) + "\n"


def _run_decode_link(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    secret = signing_key(args.tracking_secret, args.seed) if args.tracking_secret or args.seed is not None else None
    status = 0
    blocks: list[str] = []
    for url in args.urls:
        try:
            link = decode_url(url, secret)
        except TokenError as exc:
            status = 1
            sys.stderr.write(f"emulator decode-link: {url}: {exc}\n")
            if args.json:
                blocks.append(json.dumps({"url": url, "error": str(exc)}) + "\n")
            continue
        if args.json:
            blocks.append(json.dumps({"url": url, **dataclasses.asdict(link)}) + "\n")
        else:
            blocks.append(_readable(url, link))
    sys.stdout.write(("" if args.json else "\n").join(blocks))
    return status
