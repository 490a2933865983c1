"""The engine's HTTP transport: kept-alive HTTP/1.1 connections to SDK apps, parsed by httptools.

The engine calls its apps once per step, with a hundred or more calls in flight. httpx's own
transport (httpcore, h11 and anyio) then took half of the engine's CPU: it parses in pure Python
and checks every pooled connection on every request. Here a connection is an asyncio protocol
fed to httptools' C parser, and the idle connections of each origin wait in a stack, so taking one
costs the same however many there are.

Plain-HTTP requests take this path; HTTPS and HEAD requests go to httpx's own transport, and so
does every request that the environment's proxy settings (HTTP_PROXY, NO_PROXY, ...) send through
a proxy. A kept-alive connection the app closed while it was idle fails before any answer
arrives: the request is then sent once more on a new connection (a call may run twice in any
case: the engine retries calls that fail).
"""

import asyncio
import contextlib
import time
import urllib.request
from collections import defaultdict

import httptools
import httpx

# The most an answer may carry, as the Go server reads at most MaxSDKResponseBodySize (a step's
# output and input, 4 MiB each); past it the answer is dropped, not held in memory.
MAX_ANSWER_SIZE = 8 * 1024 * 1024
MAX_HEAD_SIZE = 64 * 1024  # its status line and headers
# Idle connections older than this are closed rather than reused: servers close theirs after a
# few seconds (uvicorn 5, gunicorn 2), and a request sent as they do fails.
IDLE_S = 1.5


class AnswerTooLarge(httpx.RemoteProtocolError):
    """The app's answer is over MAX_ANSWER_SIZE."""


def too_large_message() -> str:
    return f"the app's answer is over {MAX_ANSWER_SIZE // (1024 * 1024)} MiB, the most it may be"


class _Stale(Exception):
    """A reused connection closed before any of the answer arrived."""


class _Connection(asyncio.Protocol):
    def __init__(self, origin: tuple[str, int]) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.open = True
        self.idle_since = 0.0
        self._answer: asyncio.Future[None] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._expect_answer()

    def _expect_answer(self) -> None:
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = self._head_size = 0
        self._received = False
        self._framed = False  # the answer says where it ends (Content-Length or chunked)
        self._headers_done = self._reusable = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes no request asked for: the connection can no longer be trusted
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}"))
            return
        if not self._headers_done:  # all of it was head, which the parser holds until it ends
            self._head_size += len(data)
            if self._head_size > MAX_HEAD_SIZE:
                limit = MAX_HEAD_SIZE // 1024
                self._fail(
                    httpx.RemoteProtocolError(f"the app's answer has over {limit} KiB of headers")
                )

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self._answer is None or self._answer.done():
            return
        if self._headers_done and not self._framed:
            self._answer.set_result(None)  # an answer that ends when the connection does
        elif not self._received:
            self._answer.set_exception(_Stale())
        else:
            self._fail(httpx.RemoteProtocolError("the app closed the connection mid-answer"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_ANSWER_SIZE:
            self._fail(AnswerTooLarge(too_large_message()))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        # Read here: once `feed_data` returns, the parser has moved on to the next message.
        self._reusable = self._parser.should_keep_alive()
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(None)

    async def exchange(self, request: bytes) -> httpx.Response:
        assert self.transport is not None
        self._expect_answer()
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            await self._answer
        except BaseException:  # an error, or cancelled (a timeout)
            self.close()
            raise
        if not self._reusable:
            self.close()
        return httpx.Response(
            self._status,
            headers=self._headers,
            stream=httpx.ByteStream(b"".join(self._body)),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        self.close()


class EngineTransport(httpx.AsyncBaseTransport):
    def __init__(self, keepalive: int, fallback: httpx.AsyncBaseTransport | None = None) -> None:
        self._keepalive = keepalive  # idle connections kept per origin
        self._idle: defaultdict[tuple[str, int], list[_Connection]] = defaultdict(list)
        self._fallback = fallback or httpx.AsyncHTTPTransport()
        self._proxies = urllib.request.getproxies()  # from the environment, as httpx reads them
        self._via_proxy: dict[str, httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        proxy = self._proxy_for(url)
        if proxy is not None:
            if proxy not in self._via_proxy:
                self._via_proxy[proxy] = httpx.AsyncHTTPTransport(proxy=proxy)
            return await self._via_proxy[proxy].handle_async_request(request)
        if url.scheme != "http" or request.method == "HEAD":
            return await self._fallback.handle_async_request(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        origin = (url.host, url.port or 80)
        body = await request.aread()
        message = _head(request, body) + body
        read = timeouts.get("read")
        idle = self._take_idle(origin)
        if idle is not None:
            with contextlib.suppress(_Stale):
                return await self._exchange(idle, message, read)
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                connection = await _connect(origin)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {url.host}:{origin[1]} in time") from None
        try:
            return await self._exchange(connection, message, read)
        except _Stale:
            raise httpx.RemoteProtocolError(
                "the app closed the connection without answering"
            ) from None

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        for transport in [self._fallback, *self._via_proxy.values()]:
            await transport.aclose()

    def _take_idle(self, origin: tuple[str, int]) -> _Connection | None:
        """The latest idle connection to `origin` that is still fit to use; the others close."""
        idle = self._idle[origin]
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.open and now - connection.idle_since < IDLE_S:
                return connection
            connection.close()
        return None

    async def _exchange(
        self, connection: _Connection, message: bytes, read_s: float | None
    ) -> httpx.Response:
        try:
            async with asyncio.timeout(read_s):
                response = await connection.exchange(message)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {read_s} s") from None
        idle = self._idle[connection.origin]
        if connection.open and len(idle) < self._keepalive:
            connection.idle_since = time.monotonic()
            idle.append(connection)
        else:
            connection.close()
        return response

    def _proxy_for(self, url: httpx.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        return None if proxy is None or urllib.request.proxy_bypass(url.host) else proxy


async def _connect(origin: tuple[str, int]) -> _Connection:
    loop = asyncio.get_running_loop()
    try:
        _, connection = await loop.create_connection(lambda: _Connection(origin), *origin)
    except OSError as exc:
        raise httpx.ConnectError(f"{exc!r}") from exc
    return connection


def _head(request: httpx.Request, body: bytes) -> bytes:
    """The request line and headers; a body httpx would have streamed in chunks is sent whole."""
    lines = [request.method.encode() + b" " + request.url.raw_path + b" HTTP/1.1"]
    lines += [
        name + b": " + value
        for name, value in request.headers.raw
        if name.lower() != b"transfer-encoding"
    ]
    if "content-length" not in request.headers and body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n"
