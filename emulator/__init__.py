"""Local stand-in for SparkPost Signals.

The package serves SparkPost's Ingest and Events APIs over aiohttp, plays
SparkPost's Bouncy Sink over aiosmtpd, answers tracked opens and clicks, and
ships a live console and pytest fixtures.  ``emulator serve`` is the entry
point for users; :func:`emulator.app.create_app` is the entry point for code.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
