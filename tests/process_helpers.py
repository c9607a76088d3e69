"""Run ``emulator`` as a real subprocess and read its start-up line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

READY = re.compile(r"emulator ready: SparkPost API on (\S+)")


class ServeProcess:
    """An ``emulator serve`` child process on a free port."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "emulator", "serve", "--port", "0", "--no-smtp", "--log-level", "warning", *args]
        full_env = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, text=True
        )
        self.url = self._read_url(timeout=20.0)

    def _read_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            match = READY.search(line)
            if match:
                return match.group(1)
        self.kill()
        stderr = self.process.stderr.read() if self.process.stderr else ""
        raise AssertionError(f"emulator serve did not report ready: {stderr}")

    def terminate(self, timeout: float = 10.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
