"""Settings and ``emulator serve`` flags of the tracking endpoints."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from emulator.config import env_value, parse_bool
from emulator.errors import ConfigError

# SparkPost rejects tracked links whose target is longer than this on redirection.
MAX_TARGET_BYTES = 4096
# SparkPost's tracked links expire one year after sending.
LINK_LIFETIME_SECONDS = 365 * 24 * 3600


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrackingSettings:
    """Tracking settings.

    ``secret`` is the signing key as given; None derives it from ``--seed``
    or, without a seed, draws a random key at each start.  ``strict`` rejects
    links whose signature does not verify under that key, and expired links.
    """

    secret: str | None = None
    strict: bool = False
    max_target_bytes: int = MAX_TARGET_BYTES

    def __post_init__(self) -> None:
        if self.secret == "":
            raise ConfigError("--tracking-secret must not be empty; omit it to use a derived or random key")

    def __repr__(self) -> str:
        secret = "<set>" if self.secret else None
        return f"TrackingSettings(secret={secret!r}, strict={self.strict!r}, max_target_bytes={self.max_target_bytes!r})"


def signing_key(secret: str | None, seed: int | None) -> bytes:
    """Return the key that signs tracked links: from ``secret``, else from ``seed``, else random."""
    if secret:
        return secret.encode("utf-8")
    if seed is not None:
        return hashlib.sha256(f"emulator tracking key:{seed}".encode()).digest()
    return secrets.token_bytes(32)


def add_secret_argument(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Register ``--tracking-secret`` (shared by ``serve``, ``wrap`` and ``decode-link``)."""
    parser.add_argument(
        "--tracking-secret",
        default=env_value(env, "--tracking-secret", None, str),
        help="key that signs and verifies tracked links (default: derived from --seed, "
        "else random at each start)",
    )


def add_tracking_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Register the tracking flags."""
    add_secret_argument(parser, env)
    parser.add_argument(
        "--strict-tracking",
        action=argparse.BooleanOptionalAction,
        default=env_value(env, "--strict-tracking", False, parse_bool),
        help="reject tracked links whose signature does not verify with --tracking-secret "
        "(real SparkPost or PowerMTA links) and expired links, instead of recording them",
    )


def tracking_settings_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    """Build :class:`TrackingSettings` from parsed flags."""
    return TrackingSettings(secret=args.tracking_secret, strict=bool(args.strict_tracking))
