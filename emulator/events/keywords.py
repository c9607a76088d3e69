"""Keyword matching as SparkPost's Events API does it.

A filter value matches when it equals a run of whole keywords of the field.
Keywords come from splitting on spaces, dashes and underscores, and also on
periods for domain fields: ``campaigns=blackfriday`` matches
``blackfriday-specials`` but ``campaigns=friday`` does not.  Matching ignores
case.  Stored values are kept as `` kw1 kw2 kw3 `` so SQLite can match them
with ``LIKE '% q1 q2 %'``.
"""

from __future__ import annotations

import functools
import re

_WORD_SEPARATORS = re.compile(r"[\s\-_]+")
_DOMAIN_SEPARATORS = re.compile(r"[\s\-_.]+")


def keywords(value: str, *, domain: bool = False) -> list[str]:
    """Split a value into lower-case keywords."""
    pattern = _DOMAIN_SEPARATORS if domain else _WORD_SEPARATORS
    return [word for word in pattern.split(value.lower()) if word]


@functools.lru_cache(maxsize=65536)
def _cached_keyword_text(value: str, domain: bool) -> str | None:
    words = keywords(value, domain=domain)
    return " " + " ".join(words) + " " if words else None


def keyword_text(value: str | None, *, domain: bool = False) -> str | None:
    """Return the stored form `` kw1 kw2 `` of a value, or None."""
    if not value:
        return None
    if len(value) <= 256:
        # Campaigns, pools and domains repeat across events, so the cache hits.
        return _cached_keyword_text(value, domain)
    words = keywords(value, domain=domain)
    return " " + " ".join(words) + " " if words else None


def like_pattern(query: str, *, domain: bool = False) -> str | None:
    """Return the LIKE pattern (escape character ``\\``) that matches ``query``'s keywords."""
    words = keywords(query, domain=domain)
    if not words:
        return None
    escaped = " ".join(words).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"% {escaped} %"
