"""Settings and ``emulator serve`` flags of the tracking endpoints."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrackingSettings:
    """Tracking settings."""

    secret: str | None = None
    strict: bool = False


def add_tracking_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Register the tracking flags."""


def tracking_settings_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    """Build :class:`TrackingSettings` from parsed flags."""
    return TrackingSettings()
