"""Settings and ``emulator serve`` flags of the Bouncy Sink."""

from __future__ import annotations

import argparse
import configparser
import dataclasses
from collections.abc import Mapping
from typing import Any

from emulator.config import env_list, env_value, parse_bool, parse_host_port
from emulator.errors import ConfigError

DEFAULT_SMTP_PORT = 2525
DEFAULT_RETURN_SMTP = ("127.0.0.1", 25)
DEFAULT_SINK_DOMAIN = "bouncy-sink.test"
DEFAULT_MAX_MESSAGES = 1000
# 10 MiB: PowerMTA's and most providers' limits are in this range.
DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixShares:
    """Percentages of mixed-domain recipients that get each outcome.

    The defaults are the public Bouncy Sink's ``[Sink]`` ini values
    (OOB 0.5, FBL 0.01, open 55, open again 10, click 15, click again 3),
    read as shares of all mixed traffic. The in-band reply share of 2 comes
    from the public sink's diagram. ``open_again`` and ``click`` are subsets
    of ``open``, and ``click_again`` is a subset of ``click``.
    """

    oob: float = 0.5
    fbl: float = 0.01
    open: float = 55.0
    open_again: float = 10.0
    click: float = 15.0
    click_again: float = 3.0
    bounce: float = 2.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not 0 <= value <= 100:
                flag = "--mix-" + field.name.replace("_", "-")
                raise ConfigError(f"{flag} must be a percentage between 0 and 100, got {value}")
        if self.open_again > self.open:
            raise ConfigError("--mix-open-again must not exceed --mix-open (a second open needs a first)")
        if self.click > self.open:
            raise ConfigError("--mix-click must not exceed --mix-open (a click needs an open)")
        if self.click_again > self.click:
            raise ConfigError("--mix-click-again must not exceed --mix-click (a second click needs a first)")


MIX_FIELDS = tuple(field.name for field in dataclasses.fields(MixShares))


@dataclasses.dataclass(frozen=True, kw_only=True)
class SinkSettings:
    """Sink settings; ``enabled=False`` means no SMTP listener is started."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = DEFAULT_SMTP_PORT
    return_smtp: tuple[str, int] = DEFAULT_RETURN_SMTP
    domains: tuple[str, ...] = (DEFAULT_SINK_DOMAIN,)
    fbl_to: str | None = None
    # Seconds between accepting a message and sending its DSN or ARF.
    return_delay: float = 2.0
    # Seconds during which a refused DSN or ARF is retried before it is given up.
    return_retry_for: float = 300.0
    # Seconds between accepting a message and its first open.
    engage_delay: float = 1.0
    max_messages: int = DEFAULT_MAX_MESSAGES
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    tls_cert: str | None = None
    tls_key: str | None = None
    hostname: str = "sink.bouncy-sink.test"
    mix: MixShares = dataclasses.field(default_factory=MixShares)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--smtp-port {self.port} is out of range 0-65535")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("--smtp-tls-cert and --smtp-tls-key must be given together")
        if not self.domains:
            raise ConfigError("--sink-domain needs at least one domain")
        normalised = tuple(domain.strip().strip(".").lower() for domain in self.domains)
        if any(not domain for domain in normalised):
            raise ConfigError("--sink-domain must not be empty")
        object.__setattr__(self, "domains", normalised)
        for name in ("return_delay", "return_retry_for", "engage_delay"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be 0 or a positive number of seconds")
        if self.max_messages < 1:
            raise ConfigError("--sink-max-messages must be at least 1")
        if self.max_message_size < 1024:
            raise ConfigError("--smtp-max-size must be at least 1024 bytes")


def add_sink_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Register the sink's flags."""
    group = parser.add_argument_group("SMTP sink")
    group.add_argument(
        "--smtp-port",
        type=int,
        default=env_value(env, "--smtp-port", DEFAULT_SMTP_PORT, int),
        help="SMTP port of the sink; 0 picks a free port (default 2525)",
    )
    group.add_argument(
        "--no-smtp",
        action="store_true",
        default=env_value(env, "--no-smtp", False, parse_bool),
        help="do not start the SMTP sink",
    )
    group.add_argument(
        "--return-smtp",
        default=env_value(env, "--return-smtp", "127.0.0.1:25", str),
        help="HOST:PORT that receives the sink's DSNs and ARF complaints (default 127.0.0.1:25)",
    )
    group.add_argument(
        "--sink-domain",
        dest="sink_domains",
        action="append",
        default=None,
        help="domain the sink accepts mail for, subdomains included (repeatable; default bouncy-sink.test)",
    )
    group.add_argument(
        "--fbl-to",
        default=env_value(env, "--fbl-to", None, str),
        help="recipient of ARF complaints (default fbl@fbl.<return-path domain>)",
    )
    for flag, default, text in (
        ("--return-delay", 2.0, "seconds before a DSN or ARF is sent (default 2)"),
        ("--return-retry-for", 300.0, "seconds a refused DSN or ARF is retried before it is given up (default 300)"),
        ("--engage-delay", 1.0, "seconds before the first open of an engaged message (default 1)"),
    ):
        group.add_argument(flag, type=float, default=env_value(env, flag, default, float), help=text)
    group.add_argument(
        "--sink-max-messages",
        type=int,
        default=env_value(env, "--sink-max-messages", DEFAULT_MAX_MESSAGES, int),
        help="received messages kept for inspection; the oldest are evicted (default 1000)",
    )
    group.add_argument(
        "--smtp-max-size",
        type=int,
        default=env_value(env, "--smtp-max-size", DEFAULT_MAX_MESSAGE_SIZE, int),
        help="largest message accepted, in bytes, advertised as SIZE (default 10485760)",
    )
    group.add_argument(
        "--smtp-tls-cert",
        default=env_value(env, "--smtp-tls-cert", None, str),
        help="PEM certificate; with --smtp-tls-key the sink offers STARTTLS",
    )
    group.add_argument(
        "--smtp-tls-key",
        default=env_value(env, "--smtp-tls-key", None, str),
        help="PEM private key for --smtp-tls-cert",
    )
    group.add_argument(
        "--sink-config",
        default=env_value(env, "--sink-config", None, str),
        help="INI file whose [mix] section sets the mix shares (keys oob, fbl, open, open_again, "
        "click, click_again, bounce); --mix-* flags override it",
    )
    defaults = MixShares()
    for name in MIX_FIELDS:
        flag = "--mix-" + name.replace("_", "-")
        group.add_argument(
            flag,
            dest="mix_" + name,
            type=float,
            default=env_value(env, flag, None, float),
            help=f"percentage of mixed-domain recipients with outcome {name!r} (default {getattr(defaults, name)})",
        )


def read_mix_file(path: str) -> dict[str, float]:
    """Read the ``[mix]`` section of an INI file into share values."""
    parser = configparser.ConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError(f"--sink-config {path!r} cannot be read: {exc.strerror}") from None
    except configparser.Error as exc:
        raise ConfigError(f"--sink-config {path!r} is not a valid INI file: {exc}") from None
    if not parser.has_section("mix"):
        raise ConfigError(f"--sink-config {path!r} has no [mix] section")
    shares: dict[str, float] = {}
    for key, raw in parser.items("mix"):
        name = key.replace("-", "_")
        if name not in MIX_FIELDS:
            raise ConfigError(f"--sink-config {path!r}: unknown key {key!r} (expected one of {', '.join(MIX_FIELDS)})")
        try:
            shares[name] = float(raw)
        except ValueError:
            raise ConfigError(f"--sink-config {path!r}: {key} = {raw!r} is not a number") from None
    return shares


def sink_settings_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    """Build :class:`SinkSettings` from parsed flags."""
    try:
        return_smtp = parse_host_port(args.return_smtp, 25)
    except ValueError as exc:
        raise ConfigError(f"--return-smtp {args.return_smtp!r} is invalid: {exc}") from None
    domains = args.sink_domains or env_list(env, "--sink-domain") or [DEFAULT_SINK_DOMAIN]
    shares = read_mix_file(args.sink_config) if args.sink_config else {}
    for name in MIX_FIELDS:
        value = getattr(args, "mix_" + name)
        if value is not None:
            shares[name] = value
    return SinkSettings(
        enabled=not args.no_smtp,
        host=args.host,
        port=args.smtp_port,
        return_smtp=return_smtp,
        domains=tuple(domains),
        fbl_to=args.fbl_to,
        return_delay=args.return_delay,
        return_retry_for=args.return_retry_for,
        engage_delay=args.engage_delay,
        max_messages=args.sink_max_messages,
        max_message_size=args.smtp_max_size,
        tls_cert=args.smtp_tls_cert,
        tls_key=args.smtp_tls_key,
        mix=MixShares(**shares),
    )
