"""Settings: one frozen object built from flags, ``EMULATOR_*`` variables and defaults.

Every ``emulator serve`` flag ``--some-flag`` also reads ``EMULATOR_SOME_FLAG``;
a flag given on the command line wins over the variable.  Repeatable flags
read a comma-separated variable.  Subsystems (sink, tracking, console) keep
their own settings classes in their packages and hang off :class:`Settings`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from emulator.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
# Base URL that client commands (send, console) use unless told otherwise.
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
DEFAULT_MAX_EVENT_AGE = 24 * 3600.0
# SparkPost limits a request to 5 MB; like PowerMTA-side clients we read it as 5 MiB.
MAX_REQUEST_BYTES = 5 * 1024 * 1024
# Decompressed size at which a batch is refused as a decompression error, so a
# gzip bomb cannot exhaust memory.  A full 5 MiB batch of ingest NDJSON inflates
# to roughly 50 MB, so this leaves room for any real batch.
MAX_DECOMPRESSED_BYTES = 128 * 1024 * 1024
LOG_LEVELS = ("debug", "info", "warning", "error")

T = TypeVar("T")


def env_name(flag: str) -> str:
    """Return the environment variable that backs ``--flag``."""
    return "EMULATOR_" + flag.lstrip("-").replace("-", "_").upper()


def env_value(
    env: Mapping[str, str], flag: str, default: T, convert: Callable[[str], T]
) -> T:
    """Read ``flag``'s variable from ``env``, converted, or return ``default``."""
    name = env_name(flag)
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return convert(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}={raw!r} is invalid: {exc}") from None


def env_list(env: Mapping[str, str], flag: str) -> list[str]:
    """Read a comma-separated variable for a repeatable flag."""
    raw = env.get(env_name(flag), "")
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_bool(raw: str) -> bool:
    """Convert ``1/0``, ``true/false``, ``yes/no`` or ``on/off``."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def parse_host_port(raw: str, default_port: int) -> tuple[str, int]:
    """Split ``HOST:PORT`` (or ``[v6]:PORT``, or a bare host)."""
    text = raw.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"missing host in {raw!r}")
    port = int(port_text) if port_text else default_port
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0-65535")
    return host, port


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Core server settings; subsystem settings hang off ``sink``, ``tracking``, ``console``."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db: str = ":memory:"
    api_keys: tuple[str, ...] = ()
    max_event_age: float = DEFAULT_MAX_EVENT_AGE
    seed: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    log_level: str = "info"
    max_request_bytes: int = MAX_REQUEST_BYTES
    max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES
    sink: Any = None
    tracking: Any = None
    console: Any = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port} is out of range 0-65535")
        if self.max_event_age < 0:
            raise ConfigError("--max-event-age must be 0 (off) or a positive number of seconds")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("--tls-cert and --tls-key must be given together")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
        if any(not key for key in self.api_keys):
            raise ConfigError("--api-key must not be empty")
        if self.sink is None:
            from emulator.sink.options import SinkSettings

            object.__setattr__(self, "sink", SinkSettings(enabled=False))
        if self.tracking is None:
            from emulator.tracking.options import TrackingSettings

            object.__setattr__(self, "tracking", TrackingSettings())
        if self.console is None:
            from emulator.console.options import ConsoleSettings

            object.__setattr__(self, "console", ConsoleSettings())

    @property
    def strict_keys(self) -> bool:
        """Whether only the configured API keys are accepted."""
        return bool(self.api_keys)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def __repr__(self) -> str:
        fields = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "api_keys":
                value = f"<{len(value)} key(s)>"
            fields.append(f"{field.name}={value!r}")
        return f"Settings({', '.join(fields)})"


def add_core_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Register the core ``emulator serve`` flags, with defaults from ``env``."""
    parser.add_argument(
        "--host",
        default=env_value(env, "--host", DEFAULT_HOST, str),
        help="address the HTTP server binds (default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=env_value(env, "--port", DEFAULT_PORT, int),
        help="HTTP port; 0 picks a free port (default 8080)",
    )
    parser.add_argument(
        "--db",
        default=env_value(env, "--db", ":memory:", str),
        help="SQLite file that keeps everything across restarts (default: in memory)",
    )
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        default=None,
        help="accept only this API key (repeatable; EMULATOR_API_KEYS is a comma list); "
        "without it any non-empty key is accepted",
    )
    parser.add_argument(
        "--max-event-age",
        type=float,
        default=env_value(env, "--max-event-age", DEFAULT_MAX_EVENT_AGE, float),
        help="reject ingested events older than this many seconds; 0 turns the check off "
        "(default 86400)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=env_value(env, "--seed", None, int),
        help="seed for every random choice (ids, behaviour mix, bounce replies)",
    )
    parser.add_argument(
        "--tls-cert",
        default=env_value(env, "--tls-cert", None, str),
        help="PEM certificate file; with --tls-key the HTTP port serves HTTPS",
    )
    parser.add_argument(
        "--tls-key",
        default=env_value(env, "--tls-key", None, str),
        help="PEM private key file for --tls-cert",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=env_value(env, "--log-level", "info", str),
        help="logging level (default info)",
    )


def core_settings_kwargs(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    """Collect the core ``Settings`` fields from parsed flags."""
    api_keys = args.api_keys if args.api_keys else env_list(env, "--api-keys")
    return {
        "host": args.host,
        "port": args.port,
        "db": args.db,
        "api_keys": tuple(api_keys),
        "max_event_age": args.max_event_age,
        "seed": args.seed,
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
        "log_level": args.log_level,
    }


def current_env() -> Mapping[str, str]:
    """Return the process environment (one place, so tests can pass their own)."""
    return os.environ
