"""Settings and ``emulator serve`` flags of the Bouncy Sink."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any

from emulator.config import env_value

DEFAULT_SMTP_PORT = 2525


@dataclasses.dataclass(frozen=True, kw_only=True)
class SinkSettings:
    """Sink settings; ``enabled=False`` means no SMTP listener is started."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = DEFAULT_SMTP_PORT


def add_sink_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Register the sink's flags."""
    parser.add_argument(
        "--smtp-port",
        type=int,
        default=env_value(env, "--smtp-port", DEFAULT_SMTP_PORT, int),
        help="SMTP port of the sink; 0 picks a free port (default 2525)",
    )
    parser.add_argument(
        "--no-smtp",
        action="store_true",
        default=env_value(env, "--no-smtp", False, lambda raw: raw.lower() in ("1", "true", "yes")),
        help="do not start the SMTP sink",
    )


def sink_settings_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    """Build :class:`SinkSettings` from parsed flags."""
    return SinkSettings(enabled=not args.no_smtp, host=args.host, port=args.smtp_port)
