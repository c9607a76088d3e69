#!/usr/bin/env python3
"""Measure the sink's accept path against a bare aiosmtpd server, in one run.

Both servers run in this process on 127.0.0.1, on free ports.  A separate
client process opens several concurrent connections to each in turn.  Each
connection sends a bounded number of small messages, one transaction after
another.  The script prints messages per second for both and their ratio
(the sink's target is at least 0.9 of the bare server).

    python3 scripts/bench_smtp.py [--messages 5000] [--connections 8] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

MESSAGE = (
    b"From: bench@pmta.example.com\r\nTo: bench@accept.bouncy-sink.test\r\nSubject: bench\r\n"
    b"Message-ID: <bench@pmta.example.com>\r\n\r\n" + b"Benchmark body line.\r\n" * 40
)


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if len(line) < 4 or line[3:4] != b"-":
            return line


async def _connection(port: int, count: int, deadline: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await _reply(reader)
    writer.write(b"EHLO bench.example.com\r\n")
    await _reply(reader)
    sent = 0
    while sent < count and time.monotonic() < deadline:
        for command in (b"MAIL FROM:<bench@pmta.example.com>", b"RCPT TO:<bench@accept.bouncy-sink.test>", b"DATA"):
            writer.write(command + b"\r\n")
            await _reply(reader)
        writer.write(MESSAGE + b".\r\n")
        final = await _reply(reader)
        if not final.startswith(b"250"):
            raise RuntimeError(f"message rejected by the server: {final!r}")
        sent += 1
    writer.write(b"QUIT\r\n")
    await _reply(reader)
    writer.close()
    return sent


async def _drive(port: int, messages: int, connections: int, time_limit: float) -> dict[str, float]:
    per_connection = [messages // connections + (1 if index < messages % connections else 0) for index in range(connections)]
    started = time.monotonic()
    counts = await asyncio.gather(*(_connection(port, count, started + time_limit) for count in per_connection))
    elapsed = time.monotonic() - started
    return {"messages": sum(counts), "seconds": elapsed, "rate": sum(counts) / elapsed}


def client_main(args: argparse.Namespace) -> int:
    result = asyncio.run(_drive(args.port, args.messages, args.connections, args.time_limit))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


async def _measure(port: int, args: argparse.Namespace) -> dict[str, float]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", "--port", str(port), "--messages", str(args.messages),
        "--connections", str(args.connections), "--time-limit", str(args.time_limit),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(process.communicate(), args.time_limit + 30)
    if process.returncode != 0:
        raise RuntimeError(f"client process failed with exit code {process.returncode}")
    return json.loads(output)


async def server_main(args: argparse.Namespace) -> int:
    from aiosmtpd.smtp import SMTP

    from emulator.app import EmulatorServer
    from emulator.config import Settings
    from emulator.sink.options import MixShares, SinkSettings

    class BareHandler:
        async def handle_DATA(self, server, session, envelope) -> str:
            return "250 OK"

    loop = asyncio.get_running_loop()
    bare = await loop.create_server(lambda: SMTP(BareHandler(), hostname="bare.test"), "127.0.0.1", 0)
    bare_port = bare.sockets[0].getsockname()[1]
    mix = MixShares(oob=0, fbl=0, open=0, open_again=0, click=0, click_again=0, bounce=0)
    emulator = EmulatorServer(Settings(port=0, seed=1, sink=SinkSettings(port=0, mix=mix, return_smtp=("127.0.0.1", 9))))
    await emulator.start()
    try:
        sink_port = emulator.components["sink"].port
        # A short unmeasured warm-up on each, then alternate the order so neither
        # server always runs on a cold or a warm machine.
        warm_up = argparse.Namespace(**{**vars(args), "messages": min(500, args.messages)})
        await _measure(bare_port, warm_up)
        await _measure(sink_port, warm_up)
        bare_first = await _measure(bare_port, args)
        sink_result = await _measure(sink_port, args)
        bare_second = await _measure(bare_port, args)
    finally:
        await emulator.stop()
        bare.close()
        await bare.wait_closed()
    bare_rate = (bare_first["rate"] + bare_second["rate"]) / 2
    ratio = sink_result["rate"] / bare_rate
    sys.stdout.write(
        f"bare aiosmtpd: {bare_rate:8.1f} messages/s (runs {bare_first['rate']:.1f} and {bare_second['rate']:.1f})\n"
        f"sink (accept): {sink_result['rate']:8.1f} messages/s ({sink_result['messages']:.0f} messages "
        f"in {sink_result['seconds']:.2f} s)\n"
        f"ratio sink/bare: {ratio:.2f} (target >= 0.90)\n"
    )
    return 0 if ratio >= 0.9 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages per measurement (default 5000)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent client connections (default 8)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds each measurement may take at most")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(args)
    return asyncio.run(server_main(args))


if __name__ == "__main__":
    sys.exit(main())
