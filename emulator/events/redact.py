"""Redaction of reply texts: SparkPost's ``reason`` hides what ``raw_reason`` keeps."""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


def redact_reason(text: str) -> str:
    """Replace e-mail addresses with ``...@...`` and IPv4 literals with ``a.b.c.d``."""
    return _IPV4.sub("a.b.c.d", _ADDRESS.sub("...@...", text))
