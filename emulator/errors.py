"""Exceptions raised by the emulator.

    EmulatorError
    ├── ConfigError          invalid settings (flags, environment, files)
    └── ApiError             an HTTP request fails; carries SparkPost's status and code
        ├── BadRequest       400, invalid query parameter or body
        ├── Unauthorized     401, missing or unknown API key
        ├── NotFound         404, unknown resource
        ├── MethodNotAllowed 405
        ├── PayloadTooLarge  413
        └── UnsupportedMediaType 415

One middleware (``emulator.api.middleware``) turns an ``ApiError`` into
SparkPost's error body ``{"errors": [{"message", "description"?, "code"?}]}``.
"""

from __future__ import annotations

from typing import Any


class EmulatorError(Exception):
    """Root of every error the emulator raises on purpose."""


class ConfigError(EmulatorError):
    """A setting is invalid; the message names the setting and the fix."""


class ApiError(EmulatorError):
    """An HTTP request failed in a way SparkPost reports with an error body."""

    status: int = 500
    code: str | None = "1500"

    def __init__(
        self,
        message: str,
        *,
        description: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.description = description
        if code is not None:
            self.code = code
        self.extra = extra or {}

    def to_body(self) -> dict[str, Any]:
        """Build SparkPost's error body for this error."""
        error: dict[str, Any] = {"message": self.message}
        if self.description:
            error["description"] = self.description
        if self.code:
            error["code"] = self.code
        error.update(self.extra)
        return {"errors": [error]}


class BadRequest(ApiError):
    status = 400
    code = "1200"


class Unauthorized(ApiError):
    status = 401
    code = None


class NotFound(ApiError):
    status = 404
    code = None


class MethodNotAllowed(ApiError):
    status = 405
    code = "1102"


class PayloadTooLarge(ApiError):
    status = 413
    code = None


class UnsupportedMediaType(ApiError):
    status = 415
    code = "1700"
