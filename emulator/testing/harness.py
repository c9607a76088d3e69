"""Run the emulator in a background thread, for tests and scripts that are not asyncio code.

:class:`EmulatorHarness` owns one event loop on its own thread.  On it run the
emulator server (HTTP API, tracking, Bouncy Sink), a capture SMTP listener
in place of the MTA's port 25, and the aiohttp client session the test
helpers use.  Nothing here depends on pytest; the pytest plugin is a thin
layer on top.

.. code-block:: python

    with EmulatorHarness(HarnessOptions(seed=7)) as harness:
        print(harness.url, harness.smtp_port)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import threading
import traceback
from collections.abc import Coroutine
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp

from emulator.app import EmulatorServer
from emulator.config import Settings
from emulator.log import root_logger
from emulator.sink.options import DEFAULT_SINK_DOMAIN, DEFAULT_SMTP_PORT, SinkSettings
from emulator.testing.capture import CaptureListener

T = TypeVar("T")

DEFAULT_API_KEY = "emulator-test-key"
DEFAULT_SEED = 0
# Start-up takes a few milliseconds; the limit only bounds a hung start.
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0
SETTLE_ITERATIONS = 5


class HarnessError(RuntimeError):
    """The harness could not start, stop or reach the emulator."""


class FeatureUnavailable(HarnessError):
    """A helper needs a part of the emulator that this harness cannot reach."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class HarnessOptions:
    """How to start (or where to find) the emulator.

    :param seed: seed of every random choice of the in-process emulator.
    :param api_key: the only API key the in-process emulator accepts, and the
        key the helpers send.
    :param sink_domain: the sink's domain; addresses end in it.
    :param return_delay: seconds the sink waits before sending a DSN or ARF.
    :param engage_delay: seconds the sink waits before the first open.
    :param return_retry_for: seconds the sink retries a refused DSN or ARF.
    :param remote_url: base URL of an emulator that is already running; when
        set, no server is started in this process.
    :param remote_smtp: ``(host, port)`` of that emulator's sink; defaults to
        the URL's host and port 2525.
    :param capture_address: ``(host, port)`` for the capture listener when
        ``remote_url`` is set; the remote sink must return mail there
        (``--return-smtp``).  Without it, returned mail is unavailable remotely.
    :param settings: complete settings for the in-process emulator, used
        instead of ``seed``, ``sink_domain``, ``host`` and the delays.  The
        sink's ``return_smtp`` is pointed at the capture listener.  They must
        accept ``api_key`` (any key is accepted when their ``api_keys`` is empty).
    """

    seed: int | None = DEFAULT_SEED
    api_key: str = DEFAULT_API_KEY
    sink_domain: str = DEFAULT_SINK_DOMAIN
    host: str = "127.0.0.1"
    return_delay: float = 0.0
    engage_delay: float = 0.0
    return_retry_for: float = 10.0
    remote_url: str | None = None
    remote_smtp: tuple[str, int] | None = None
    capture_address: tuple[str, int] | None = None
    settings: Settings | None = None


def local_settings(options: HarnessOptions, return_smtp: tuple[str, int]) -> Settings:
    """Build the in-process emulator's settings: free ports on ``options.host``, mail returned to ``return_smtp``."""
    if options.settings is not None:
        sink = dataclasses.replace(options.settings.sink, return_smtp=return_smtp)
        return dataclasses.replace(options.settings, sink=sink)

    sink = SinkSettings(
        host=options.host,
        port=0,
        return_smtp=return_smtp,
        domains=(options.sink_domain,),
        return_delay=options.return_delay,
        engage_delay=options.engage_delay,
        return_retry_for=options.return_retry_for,
    )
    return Settings(
        host=options.host,
        port=0,
        seed=options.seed,
        api_keys=(options.api_key,),
        sink=sink,
    )


class EmulatorHarness:
    """The emulator and a capture SMTP listener on a private event loop thread.

    :meth:`start` returns once every listener accepts connections, and
    :meth:`stop` returns within about ``STOP_TIMEOUT`` seconds even when a
    start failed halfway.  All attributes are safe to read from any thread;
    coroutines that touch the servers must run on the harness loop through
    :meth:`run` or :meth:`run_async`.
    """

    def __init__(self, options: HarnessOptions | None = None) -> None:
        self.options = options if options is not None else HarnessOptions()
        self.server: EmulatorServer | None = None
        self.capture: CaptureListener | None = None
        self.http: aiohttp.ClientSession | None = None
        self.url = ""
        self.smtp_host = ""
        self.smtp_port = 0
        # Errors the emulator's own list does not see: failures of tasks on
        # the harness loop and of the capture listener.
        self.loop_errors: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- public properties -------------------------------------------------

    @property
    def is_remote(self) -> bool:
        return self.options.remote_url is not None

    @property
    def api_key(self) -> str:
        return self.options.api_key

    @property
    def sink_domain(self) -> str:
        if self.options.settings is not None and not self.is_remote:
            return str(self.options.settings.sink.domains[0])
        return self.options.sink_domain

    @property
    def capture_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the capture listener, or None when there is none."""
        if self.capture is None or self.capture.port is None:
            return None
        return self.capture.host, self.capture.port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = READY_TIMEOUT) -> Self:
        """Start the loop thread and every listener; return once they accept connections.

        :raises HarnessError: when a listener fails to bind, the remote
            emulator does not respond, or start-up takes longer than ``timeout``.
        """
        if self._thread is not None:
            raise HarnessError("the emulator harness is already started; call stop() first")

        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._record_loop_error)
        self._loop = loop
        self._thread = threading.Thread(target=self._run_loop, args=(loop,), name="sparkpost-emulator", daemon=True)
        self._thread.start()
        future = self._submit(self._start())
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            # Cancelling a start halfway through binding can leak a listening
            # socket, so let it finish before stopping everything.
            with contextlib.suppress(Exception):
                future.result(STOP_TIMEOUT)
            self.stop()
            raise HarnessError(f"the emulator did not become ready within {timeout} s") from None
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the servers and the loop thread; safe to call twice or after a failed start."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            try:
                self.run(self._shutdown(), timeout=timeout)
            except Exception:  # noqa: BLE001 - logged; the thread must still be stopped
                root_logger.exception("stopping the emulator harness failed")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if thread.is_alive():
                root_logger.warning("the emulator harness thread did not end within %.0f s", timeout)
        self._loop = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- running coroutines on the harness loop ------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the harness loop and block until it returns.

        :raises HarnessError: when ``timeout`` seconds pass first (the
            coroutine is cancelled).
        """
        __tracebackhide__ = True
        future = self._submit(coro)
        try:
            return future.result(timeout)
        except AssertionError as exc:
            # A failed wait: the frames of the loop thread add nothing to its message.
            raise exc.with_traceback(None) from None
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise HarnessError(f"the emulator harness did not finish {_name(coro)} within {timeout} s") from None

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the harness loop from another event loop (a pytest-asyncio test)."""
        __tracebackhide__ = True
        try:
            return await asyncio.wrap_future(self._submit(coro))
        except AssertionError as exc:
            raise exc.with_traceback(None) from None

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise HarnessError("the emulator harness is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    # -- server-side errors --------------------------------------------------

    def server_errors(self) -> list[str]:
        """Return the server-side tracebacks recorded since the last :meth:`take_server_errors`, keeping them."""
        errors = list(self.loop_errors)
        if self.server is not None:
            from emulator.api.keys import SERVER_ERRORS

            errors.extend(self.server.app[SERVER_ERRORS])
        return errors

    async def take_server_errors(self) -> list[str]:
        """Return and forget every server-side traceback recorded since the last call."""
        errors = list(self.loop_errors)
        self.loop_errors.clear()
        if self.server is not None:
            from emulator.api.keys import SERVER_ERRORS

            app_errors: list[str] = self.server.app[SERVER_ERRORS]
            errors.extend(app_errors)
            app_errors.clear()
        return errors

    def _record_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exception = context.get("exception")
        text = str(context.get("message", "unhandled error on the emulator loop"))
        if isinstance(exception, BaseException):
            trace = "".join(traceback.format_exception(exception))
            text = f"{text}\n{trace}"
        self.loop_errors.append(text)
        loop.default_exception_handler(context)

    # -- loop-side start and stop --------------------------------------------

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=STOP_TIMEOUT))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    async def _start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT))
        if self.is_remote:
            await self._start_remote()
        else:
            await self._start_local()

    async def _start_local(self) -> None:
        self.capture = CaptureListener(self.options.host, 0, errors=self.loop_errors)
        await self.capture.start()
        assert self.capture.port is not None
        settings = local_settings(self.options, (self.capture.host, self.capture.port))
        self.server = EmulatorServer(settings)
        await self.server.start()
        self.url = self.server.url
        sink = self.server.components.get("sink")
        if sink is not None:
            self.smtp_host = settings.sink.host
            self.smtp_port = int(sink.port)
        root_logger.info("emulator harness ready: %s", "; ".join(self.server.describe()))

    async def _start_remote(self) -> None:
        url = str(self.options.remote_url).rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HarnessError(f"emulator URL {url!r} is invalid; expected http://HOST:PORT")
        self.url = url
        self.smtp_host, self.smtp_port = self.options.remote_smtp or (parts.hostname, DEFAULT_SMTP_PORT)
        if self.options.capture_address is not None:
            host, port = self.options.capture_address
            self.capture = CaptureListener(host, port, errors=self.loop_errors)
            await self.capture.start()
        assert self.http is not None
        try:
            async with self.http.get(f"{url}/__emulator/health") as response:
                if response.status != 200:
                    raise HarnessError(f"{url}/__emulator/health returned HTTP {response.status}; is this the emulator?")
        except aiohttp.ClientError as exc:
            raise HarnessError(f"the emulator at {url} is not reachable: {exc}") from None
        root_logger.info("emulator harness using the emulator at %s", url)

    async def _shutdown(self) -> None:
        if self.server is not None:
            try:
                await self.server.stop()
            finally:
                self.server = None
        if self.capture is not None:
            await self.capture.stop()
        if self.http is not None:
            await self.http.close()
            self.http = None
        # Let closed connections run their connection_lost callbacks, so no
        # transport is left for the garbage collector to warn about.
        for _ in range(SETTLE_ITERATIONS):
            await asyncio.sleep(0)


def _name(coro: Coroutine[Any, Any, Any]) -> str:
    return getattr(coro, "__qualname__", None) or repr(coro)
