"""Settings and ``emulator serve`` flags of the live console."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsoleSettings:
    """Console settings; ``enabled=None`` shows the view when stdout is a terminal."""

    enabled: bool | None = False


def add_console_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Register the console flags."""


def console_settings_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    """Build :class:`ConsoleSettings` from parsed flags."""
    return ConsoleSettings()
