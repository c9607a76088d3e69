"""Settings and ``emulator serve`` flags of the live console."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping

from emulator.config import env_value, parse_bool
from emulator.errors import ConfigError

DEFAULT_REFRESH_PER_SECOND = 2.0
MAX_REFRESH_PER_SECOND = 4.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsoleSettings:
    """Console settings; ``enabled=None`` shows the view when stdout is a terminal."""

    enabled: bool | None = False
    # Redraws of the live view per second.
    refresh_per_second: float = DEFAULT_REFRESH_PER_SECOND

    def __post_init__(self) -> None:
        if not 0 < self.refresh_per_second <= MAX_REFRESH_PER_SECOND:
            raise ConfigError(
                f"--console-refresh must be above 0 and at most {MAX_REFRESH_PER_SECOND:g} "
                f"redraws per second, got {self.refresh_per_second:g}"
            )


def add_console_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Register ``--console``, ``--no-console`` and ``--console-refresh``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--console",
        dest="console",
        action="store_true",
        default=None,
        help="show the live console even when stdout is not a terminal "
        "(EMULATOR_CONSOLE=1/0 sets either way; default: only on a terminal)",
    )
    group.add_argument(
        "--no-console",
        dest="console",
        action="store_false",
        help="never show the live console; log one line per batch outcome instead",
    )
    parser.add_argument(
        "--console-refresh",
        type=float,
        default=env_value(env, "--console-refresh", DEFAULT_REFRESH_PER_SECOND, float),
        help=f"live console redraws per second, at most {MAX_REFRESH_PER_SECOND:g} "
        f"(default {DEFAULT_REFRESH_PER_SECOND:g})",
    )


def console_settings_from_args(args: argparse.Namespace, env: Mapping[str, str]) -> ConsoleSettings:
    """Build :class:`ConsoleSettings` from parsed flags; a flag wins over ``EMULATOR_CONSOLE``."""
    enabled = getattr(args, "console", None)
    if enabled is None:
        enabled = env_value(env, "--console", None, parse_bool)
    return ConsoleSettings(
        enabled=enabled,
        refresh_per_second=getattr(args, "console_refresh", DEFAULT_REFRESH_PER_SECOND),
    )
