"""``emulator console --url``: the live console of an emulator running elsewhere."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Mapping

from rich.console import Console

from emulator.config import DEFAULT_URL, env_value
from emulator.console.remote import RemoteOptions, run_remote
from emulator.errors import ConfigError

MIN_INTERVAL = 0.25


def add_commands(subparsers: argparse._SubParsersAction, env: Mapping[str, str]) -> None:
    """Add the ``console`` subcommand."""
    parser = subparsers.add_parser(
        "console",
        help="show the live console of a running emulator",
        description="Poll GET /__emulator/console of a running emulator and show its live view. "
        "An unreachable server is retried with back-off; Ctrl-C exits.",
    )
    parser.add_argument(
        "--url",
        default=env_value(env, "--url", DEFAULT_URL, str),
        help=f"base URL of the emulator's HTTP API (default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=env_value(env, "--api-key", None, str),
        help="API key to send, needed when the server was started with --api-key",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=env_value(env, "--interval", 1.0, float),
        help=f"seconds between polls, at least {MIN_INTERVAL:g} (default 1)",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=env_value(env, "--max-attempts", 0, int),
        help="failed polls in a row before giving up with exit status 1; 0 retries forever (default 0)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="print the view once and exit (for scripts and CI logs)",
    )
    parser.set_defaults(handler=_run_console_command)


def options_from_args(args: argparse.Namespace) -> RemoteOptions:
    """Validate the ``console`` flags into :class:`RemoteOptions`."""
    url = args.url.strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must start with http:// or https://, got {url!r}")
    if args.interval < MIN_INTERVAL:
        raise ConfigError(f"--interval must be at least {MIN_INTERVAL:g} seconds, got {args.interval:g}")
    if args.max_attempts < 0:
        raise ConfigError(f"--max-attempts must be 0 (retry forever) or more, got {args.max_attempts}")
    return RemoteOptions(
        url=url,
        api_key=args.api_key or None,
        interval=args.interval,
        max_attempts=args.max_attempts,
        once=args.once,
    )


def _run_console_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    options = options_from_args(args)
    try:
        return asyncio.run(_main(options))
    except KeyboardInterrupt:
        # Signal handlers are not available on every platform; a plain
        # KeyboardInterrupt still ends the command without a traceback.
        return 0


async def _main(options: RemoteOptions) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    console = Console()
    return await run_remote(options, stop, console=console, live=sys.stdout.isatty())
