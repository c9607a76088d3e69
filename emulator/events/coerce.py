"""Coerce ingested field values to the types SparkPost's Events API shows.

Clients send the same field as a string, a number or a boolean
(``"0"``/``0``, ``"1"``/``true``). Each form is accepted when it has one clear
meaning, and otherwise rejected with a message that names the field.
"""

from __future__ import annotations

import math
from typing import Any

from emulator.events import fields as f
from emulator.events.timefmt import parse_event_time


class CoercionError(ValueError):
    """A field value cannot be converted; the message names the field."""


_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off", ""}


def _number_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        raise CoercionError(f"'{name}' must be a number or a numeric string, not a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CoercionError(f"'{name}' must be a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value.strip()
    raise CoercionError(f"'{name}' must be a number or a numeric string")


# SQLite stores signed 64-bit integers.
_INTEGER_MIN, _INTEGER_MAX = -(2**63), 2**63 - 1
# Unix seconds from 1970 to the end of year 9999; a timestamp in milliseconds
# lands far beyond it and is refused instead of being read as a date in the future.
_TIMESTAMP_MAX = 253402300799.0


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise CoercionError(f"'{name}' must be an integer, not a boolean")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            pass
    if number is None:
        raise CoercionError(f"'{name}' must be an integer, got {value!r}")
    if not _INTEGER_MIN <= number <= _INTEGER_MAX:
        raise CoercionError(f"'{name}' is out of the 64-bit integer range: {value!r}")
    return number


def _timestamp(name: str, value: Any) -> float:
    try:
        seconds = parse_event_time(value)
    except ValueError as exc:
        raise CoercionError(f"'{name}' is not a valid timestamp: {exc}") from None
    if not (math.isfinite(seconds) and 0 <= seconds <= _TIMESTAMP_MAX):
        raise CoercionError(
            f"'{name}' {value!r} is out of range; send Unix seconds (not milliseconds) after 1970"
        )
    return seconds


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise CoercionError(f"'{name}' must be a boolean (true/false, 1/0), got {value!r}")


def _string(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(name, value)
    raise CoercionError(f"'{name}' must be a string, got {type(value).__name__}")


def _geo(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CoercionError(f"'{name}' must be an object")
    result = dict(value)
    for key in ("latitude", "longitude"):
        raw = result.get(key)
        if raw is None or raw == "":
            continue
        try:
            result[key] = float(raw)
        except (TypeError, ValueError):
            raise CoercionError(f"'{name}.{key}' must be a number, got {raw!r}") from None
    return result


STRING_FIELDS = frozenset(name for name, field in f.FIELDS.items() if field.kind == f.STRING)


def coerce_value(name: str, value: Any) -> Any:
    """Convert one known field's value; unknown fields pass through unchanged."""
    if name in STRING_FIELDS:
        # Fast path: most ingest values are strings already.
        return value if value.__class__ is str else _string(name, value)
    kind = f.field_kind(name)
    if kind is None:
        return value
    if kind == f.NUMBER_STRING and value.__class__ is str:
        return value.strip()
    if kind == f.NUMBER_STRING:
        return _number_text(name, value)
    if kind == f.INTEGER:
        return _integer(name, value)
    if kind == f.BOOLEAN:
        return _boolean(name, value)
    if kind == f.FLAG_STRING:
        return "1" if _boolean(name, value) else "0"
    if kind == f.TIMESTAMP:
        return _timestamp(name, value)
    if kind == f.OBJECT:
        if not isinstance(value, dict):
            raise CoercionError(f"'{name}' must be an object")
        return value
    if kind == f.ARRAY:
        if not isinstance(value, list):
            raise CoercionError(f"'{name}' must be an array")
        return value
    if kind == f.GEO:
        return _geo(name, value)
    raise AssertionError(f"unhandled field kind {kind}")
