"""A client that sends its request headers slowly, or nothing at all, loses its connection after
the header timeout; requests whose headers came are never cut off, however long they take."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from engine.cli import start_server
from tests.engine.harness import free_port

pytestmark = pytest.mark.anyio

HEADER_TIMEOUT_S = 0.5
CLOSED_WITHIN_S = 5.0  # far above the timeout: only a connection that is never closed fails


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(float(request.query_params.get("s", "0")))
    return PlainTextResponse("done")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = Starlette(routes=[Route("/", slow)])
    port = free_port()
    server, serving = await start_server(
        app, "127.0.0.1", port, header_timeout=HEADER_TIMEOUT_S, lifespan="off"
    )
    yield port
    server.should_exit = True
    await serving


@asynccontextmanager
async def connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection before CLOSED_WITHIN_S (it sends nothing)."""
    try:
        return await asyncio.wait_for(reader.read(), CLOSED_WITHIN_S) == b""
    except TimeoutError:
        return False


async def status_of(port: int, path: str) -> bytes:
    async with connection(port) as (reader, writer):
        writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
        return (await reader.read()).split(b"\r\n")[0]


async def test_half_sent_headers_lose_the_connection(port: int) -> None:
    async with connection(port) as (reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n")  # no blank line: headers not complete

        assert await closed_by_server(reader)


async def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    async with connection(port) as (reader, _):
        assert await closed_by_server(reader)


async def test_a_keep_alive_connection_trickling_its_next_request_is_closed(port: int) -> None:
    async with connection(port) as (reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        await reader.readuntil(b"done")
        for byte in b"GET / HTTP/1.1\r\nHost: test\r\n":  # faster than the keep-alive timeout
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)
            if reader.at_eof():
                break

        assert await closed_by_server(reader)


async def test_a_request_slower_than_the_timeout_is_answered(port: int) -> None:
    assert await status_of(port, f"/?s={HEADER_TIMEOUT_S * 3}") == b"HTTP/1.1 200 OK"
