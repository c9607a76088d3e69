"""API key checks, as SparkPost does them: ``Authorization: <key>`` or Basic with the key as user."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from aiohttp import web

from emulator.config import Settings
from emulator.errors import Unauthorized


def key_from_header(value: str | None) -> str | None:
    """Extract the API key from an ``Authorization`` header value."""
    if not value or not value.strip():
        return None
    text = value.strip()
    scheme, _, rest = text.partition(" ")
    if scheme.lower() == "basic" and rest:
        try:
            decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, _ = decoded.partition(":")
        return user or None
    if scheme.lower() == "bearer":
        # SparkPost takes the bare key, never a Bearer token.
        return None
    return text


def key_fingerprint(key: str) -> str:
    """Return a short, non-reversible label for a key, safe to store and show."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def require_key(request: web.Request, settings: Settings) -> str:
    """Return the request's API key, or raise Unauthorized (401) in SparkPost's shape."""
    key = key_from_header(request.headers.get("Authorization"))
    if key is None:
        raise Unauthorized("Unauthorized.", description="Missing or malformed Authorization header: send the API key itself.")
    if settings.strict_keys and not any(hmac.compare_digest(key, allowed) for allowed in settings.api_keys):
        raise Unauthorized("Unauthorized.", description="The API key is not one of the keys the emulator was started with.")
    return key
