"""Run the emulator inside a test process and assert on what it received.

The pytest plugin (:mod:`emulator.pytest_plugin`) builds on these classes;
they also work without pytest:

- :class:`EmulatorHarness` starts the emulator and a capture SMTP listener
  on a private event loop thread (or points at an emulator elsewhere);
- :class:`Emulator` (blocking) and :class:`AsyncEmulator` (awaitable) are
  the helpers a test calls: ``upload``, ``wait_for_events``,
  ``wait_for_returned_mail`` and so on;
- :class:`ReturnedMail` is a parsed DSN or ARF complaint.
"""

from emulator.testing.emulator import AsyncEmulator, Emulator, ServerSideError
from emulator.testing.events import encode_batch, ingest_event
from emulator.testing.harness import (
    EmulatorHarness,
    FeatureUnavailable,
    HarnessError,
    HarnessOptions,
)
from emulator.testing.returned import ReturnedMail, parse_returned_mail
from emulator.testing.waiting import WaitTimeout

__all__ = [
    "AsyncEmulator",
    "Emulator",
    "EmulatorHarness",
    "FeatureUnavailable",
    "HarnessError",
    "HarnessOptions",
    "ReturnedMail",
    "ServerSideError",
    "WaitTimeout",
    "encode_batch",
    "ingest_event",
    "parse_returned_mail",
]
