"""The ``emulator`` command: ``serve``, ``send`` and the subcommands subsystems add."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Mapping, Sequence

from emulator import __version__
from emulator.config import Settings, add_core_arguments, core_settings_kwargs, current_env
from emulator.errors import ConfigError


def _add_serve(subparsers: argparse._SubParsersAction, env: Mapping[str, str]) -> None:
    from emulator.console.options import add_console_arguments
    from emulator.sink.options import add_sink_arguments
    from emulator.tracking.options import add_tracking_arguments

    parser = subparsers.add_parser(
        "serve",
        help="run the SparkPost API, tracking endpoints and SMTP sink",
        description="Run the emulator. Every flag also reads an EMULATOR_* variable "
        "(--max-event-age reads EMULATOR_MAX_EVENT_AGE).",
    )
    add_core_arguments(parser, env)
    add_sink_arguments(parser, env)
    add_tracking_arguments(parser, env)
    add_console_arguments(parser, env)
    parser.set_defaults(handler=_serve)


def build_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from ``emulator serve`` flags and the environment."""
    from emulator.console.options import console_settings_from_args
    from emulator.sink.options import sink_settings_from_args
    from emulator.tracking.options import tracking_settings_from_args

    return Settings(
        **core_settings_kwargs(args, env),
        sink=sink_settings_from_args(args, env),
        tracking=tracking_settings_from_args(args, env),
        console=console_settings_from_args(args, env),
    )


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


async def run_server(settings: Settings, *, ready_message: bool = True) -> None:
    """Serve until SIGINT or SIGTERM."""
    from emulator.app import EmulatorServer

    server = EmulatorServer(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await server.start()
    try:
        if ready_message:
            sys.stdout.write("emulator ready: " + "; ".join(server.describe()) + "\n")
            sys.stdout.flush()
        from emulator.console import run_console

        await run_console(server, settings, stop)
    finally:
        await server.stop()
        logging.getLogger("emulator").info("stopped")


def _serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = build_settings(args, env)
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_server(settings))
    except OSError as exc:
        sys.stderr.write(f"emulator: cannot start: {exc}\n")
        return 1
    return 0


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emulator",
        description="Local stand-in for SparkPost Signals: Ingest and Events APIs, "
        "a Bouncy-Sink-style SMTP sink, tracking endpoints and a live console.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(subparsers, env)
    from emulator.send import add_send_command

    add_send_command(subparsers, env)
    for module_name in ("emulator.tracking.cli", "emulator.console.cli"):
        try:
            module = __import__(module_name, fromlist=["add_commands"])
        except ImportError:
            continue
        module.add_commands(subparsers, env)
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the ``emulator`` command; returns the exit status."""
    env = current_env() if env is None else env
    try:
        parser = build_parser(env)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        return int(args.handler(args, env) or 0)
    except ConfigError as exc:
        sys.stderr.write(f"emulator: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
