"""One middleware turns errors into SparkPost's error body and records server-side failures."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.api.keys import SERVER_ERRORS
from emulator.api.responses import json_response
from emulator.errors import ApiError
from emulator.log import api_logger

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Paths whose errors use SparkPost's JSON body. Tracking paths reply as a tracker does.
_JSON_ERROR_PREFIXES = ("/api/", "/__emulator/")


def error_response(error: ApiError) -> web.Response:
    return json_response(error.to_body(), status=error.status)


def _sparkpost_body(status: int, message: str) -> web.Response:
    return json_response({"errors": [{"message": message}]}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        api_logger.warning("%s %s -> %d: %s", request.method, request.path, error.status, error.message)
        return error_response(error)
    except web.HTTPException as exc:
        if not request.path.startswith(_JSON_ERROR_PREFIXES) or exc.status < 400:
            raise
        if exc.status == 404:
            return _sparkpost_body(404, "resource not found")
        if exc.status == 405:
            response = _sparkpost_body(405, f"method {request.method} is not allowed on {request.path}")
            allow = exc.headers.get("Allow")
            if allow:
                response.headers["Allow"] = allow
            return response
        return _sparkpost_body(exc.status, exc.reason)
    except Exception as exc:
        api_logger.exception("%s %s failed", request.method, request.path)
        request.app[SERVER_ERRORS].append(
            f"{request.method} {request.path}: {exc!r}\n{traceback.format_exc()}"
        )
        return _sparkpost_body(500, "internal server error in the emulator; see its log")
