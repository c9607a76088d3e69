"""Measure how long the pytest fixtures take to get the emulator ready.

Runs, in the same invocation and on the same machine:

- baseline: a fresh ``python -c "import aiohttp"`` process, wall time;
- harness: a fresh process that imports :mod:`emulator.testing`, starts an
  :class:`EmulatorHarness` (HTTP API, sink, capture listener, all on free
  ports), stops it and exits, wall time; the child also reports its own
  import-to-ready time;
- in-process: a warm second start, and the per-test reset the
  ``sparkpost_emulator`` fixture makes before each test.

Prints medians, the difference harness - baseline and their ratio.

Usage: ``python3 scripts/bench_startup.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CHILD = """
import json, time
started = time.perf_counter()
from emulator.testing import EmulatorHarness
imported = time.perf_counter()
harness = EmulatorHarness().start()
ready = time.perf_counter()
harness.stop()
print(json.dumps({"import": imported - started, "ready": ready - started}))
"""


def wall_time(code: str) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, completed.stdout


def in_process(runs: int) -> tuple[float, float]:
    """Return the median warm start and the median fixture reset, in seconds."""
    from emulator.testing import Emulator, EmulatorHarness

    EmulatorHarness().start().stop()
    starts = []
    for _ in range(runs):
        started = time.perf_counter()
        harness = EmulatorHarness().start()
        starts.append(time.perf_counter() - started)
        harness.stop()

    resets = []
    with EmulatorHarness() as harness:
        emulator = Emulator(harness)
        for number in range(runs * 10):
            started = time.perf_counter()
            emulator.reset(label=f"bench-{number}")
            resets.append(time.perf_counter() - started)
    return statistics.median(starts), statistics.median(resets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per measurement (default 7)")
    args = parser.parse_args()

    baseline = []
    harness = []
    child_ready = []
    child_import = []
    for _ in range(args.runs):
        baseline.append(wall_time("import aiohttp")[0])
        elapsed, output = wall_time(CHILD)
        harness.append(elapsed)
        figures = json.loads(output.strip().splitlines()[-1])
        child_ready.append(figures["ready"])
        child_import.append(figures["import"])
    warm_start, reset = in_process(args.runs)

    base = statistics.median(baseline)
    full = statistics.median(harness)
    out = sys.stdout
    out.write(f"python {sys.version.split()[0]}, {args.runs} runs each, medians\n")
    out.write(f"baseline  python -c 'import aiohttp'            {base * 1000:8.1f} ms\n")
    out.write(f"harness   process: import, start, stop, exit     {full * 1000:8.1f} ms\n")
    out.write(f"          difference harness - baseline          {(full - base) * 1000:8.1f} ms\n")
    out.write(f"          ratio harness / baseline               {full / base:8.2f}\n")
    out.write(f"in child  import emulator.testing                {statistics.median(child_import) * 1000:8.1f} ms\n")
    out.write(f"in child  import + start to ready                {statistics.median(child_ready) * 1000:8.1f} ms\n")
    out.write(f"warm      start to ready (second harness)        {warm_start * 1000:8.1f} ms\n")
    out.write(f"per test  sparkpost_emulator reset               {reset * 1000:8.2f} ms\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
