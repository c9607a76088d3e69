"""HTTP handlers of the open (``/q/...``) and click (``/f/a/...``) endpoints.

Only GET counts as a hit.  HEAD, OPTIONS and every other method get
``405 Method Not Allowed`` with ``Allow: GET`` and record nothing, so link
scanners and pre-flight checks never turn into engagement.  Every response
under these paths, errors included, carries ``Server: msys-http`` because
clients such as the Bouncy Sink only trust a tracker that sends it.
"""

from __future__ import annotations

from aiohttp import web

from emulator.api.keys import component
from emulator.tracking.codec import is_tracking_path
from emulator.tracking.hits import RECORD, REFUSED, Verdict

SERVER_HEADER = "msys-http"
# A 1x1 transparent GIF89a (43 bytes): one colour-table entry marked transparent.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00"
    b"\x00\x00\x00\xff\xff\xff"
    b"\x21\xf9\x04\x01\x00\x00\x00\x00"
    b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"
    b"\x02\x02\x44\x01\x00\x3b"
)
NO_CACHE_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "Thu, 01 Jan 1970 00:00:00 GMT",
}


def client_address(request: web.Request) -> str | None:
    """Return the client address: the first ``X-Forwarded-For`` entry, ``X-Real-IP``, or the peer."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    first = forwarded.split(",", 1)[0].strip()
    if first:
        return first
    real_ip = request.headers.get("X-Real-IP", "").strip()
    if real_ip:
        return real_ip
    return request.remote


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=NO_CACHE_HEADERS)


def _method_not_allowed(request: web.Request) -> web.Response:
    response = _text(405, f"method {request.method} is not allowed; tracked links answer GET only")
    response.headers["Allow"] = "GET"
    return response


def _pixel() -> web.Response:
    return web.Response(body=PIXEL_GIF, content_type="image/gif", headers=NO_CACHE_HEADERS)


async def _judge_and_record(request: web.Request) -> Verdict:
    tracker = component(request.app, "tracking")
    verdict = tracker.judge(request.path)
    await tracker.record(
        verdict,
        user_agent=request.headers.get("User-Agent"),
        ip_address=client_address(request),
    )
    return verdict


async def handle_open(request: web.Request) -> web.Response:
    """GET /q/<token>: record an open or initial open and return the pixel."""
    if request.method != "GET":
        return _method_not_allowed(request)
    verdict = await _judge_and_record(request)
    if verdict.kind == REFUSED:
        return _text(403, f"tracked link refused: {verdict.reason}")
    # An undecodable open still gets the pixel, so the message renders normally.
    return _pixel()


async def handle_click(request: web.Request) -> web.Response:
    """GET /f/a/<token>: record a click and redirect to the target URL unchanged."""
    if request.method != "GET":
        return _method_not_allowed(request)
    verdict = await _judge_and_record(request)
    if verdict.kind == REFUSED:
        # A bad target is a bad request; a link the strict mode distrusts is forbidden.
        status = 400 if verdict.rule == "target" else 403
        return _text(status, f"tracked link refused: {verdict.reason}")
    if verdict.kind != RECORD or verdict.link is None or not verdict.link.target_url:
        return _text(404, "tracked link not found")
    response = web.Response(status=302, body=b"", content_type="text/plain", headers=NO_CACHE_HEADERS)
    response.headers["Location"] = verdict.link.target_url
    return response


async def set_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Send ``Server: msys-http`` on every response under the tracking paths."""
    if request.path in ("/q", "/f") or is_tracking_path(request.path):
        response.headers["Server"] = SERVER_HEADER


def add_tracking_routes(app: web.Application) -> None:
    """Route every method under ``/q`` and ``/f`` to the tracking handlers."""
    app.router.add_route("*", "/q", handle_open)
    app.router.add_route("*", "/q/{token:.*}", handle_open)
    app.router.add_route("*", "/f", handle_click)
    app.router.add_route("*", "/f/{token:.*}", handle_click)
    app.on_response_prepare.append(set_server_header)
