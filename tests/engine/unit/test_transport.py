"""The engine's HTTP transport against a scripted server: what it sends, what it reads, and which
connections it keeps."""

import asyncio
import gzip
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from engine import transport as transport_module
from engine.transport import EngineTransport

# Answers one request: given its head and body, writes what it likes and says whether the
# connection stays open for the next request.
Script = Callable[[bytes, bytes, asyncio.StreamWriter], Awaitable[bool]]


class Server:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.handlers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api/inngest"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lengths = [
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                body = await reader.readexactly(lengths[0] if lengths else 0)
                self.requests.append((head, body))
                keep = await self.script(head, body, writer)
                await writer.drain()
                if not keep:
                    return
        finally:
            writer.close()


def answer(body: bytes, headers: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), headers, body)


async def echo(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer(b'{"got":' + body + b"}", b"x-inngest-sdk: py:v0.5\r\n"))
    return True


Scenario = Callable[[Server, httpx.AsyncClient], Awaitable[Any]]


def run(
    script: Script, scenario: Scenario, fallback: httpx.AsyncBaseTransport | None = None
) -> Any:
    async def main() -> Any:
        server = Server(script)
        await server.start()
        transport = EngineTransport(keepalive=8, fallback=fallback)
        timeout = httpx.Timeout(5.0, connect=2.0)
        try:
            async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
                return server, await scenario(server, client)
        finally:
            server.server.close()
            for handler in server.handlers:
                handler.cancel()
            await asyncio.gather(*server.handlers, return_exceptions=True)

    return asyncio.run(main())


def post(n: int = 0, **kwargs: Any) -> Scenario:
    async def scenario(server: Server, client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(server.url, content=b'{"n":%d}' % n, **kwargs)

    return scenario


def failing(error: type[Exception]) -> Scenario:
    """A post that must raise `error`: the scenario's result is the error's message."""

    async def scenario(server: Server, client: httpx.AsyncClient) -> str:
        with pytest.raises(error) as raised:
            await post()(server, client)
        return str(raised.value)

    return scenario


def posts(count: int) -> Scenario:
    async def scenario(server: Server, client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await post(n)(server, client) for n in range(count)]

    return scenario


def test_calls_share_one_kept_alive_connection_and_carry_body_and_headers() -> None:
    call = post(headers={"x-run-id": "r1"}, params={"fnId": "f"})

    async def scenario(server: Server, client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await call(server, client), *await posts(2)(server, client)]

    server, responses = run(echo, scenario)

    assert [r.json() for r in responses] == [
        {"got": {"n": 0}},
        {"got": {"n": 0}},
        {"got": {"n": 1}},
    ]
    assert all(r.headers["x-inngest-sdk"] == "py:v0.5" for r in responses)
    assert server.connections == 1
    head, body = server.requests[0]
    assert head.startswith(b"POST /api/inngest?fnId=f HTTP/1.1\r\n")
    assert b"\r\nx-run-id: r1\r\n" in head
    assert b"\r\nHost: 127.0.0.1:" in head and b"\r\nContent-Length: 7\r\n" in head
    assert body == b'{"n":0}'


def test_calls_in_flight_together_each_get_their_own_answer_then_reuse_connections() -> None:
    arrived = 0
    waves_in: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def slow_echo(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal arrived
        wave, arrived = arrived // 8, arrived + 1
        if arrived % 8 == 0:
            waves_in[wave].set()
        await waves_in[wave].wait()  # no answer before all 8 calls of the wave are in flight
        return await echo(head, body, writer)

    async def scenario(server: Server, client: httpx.AsyncClient) -> list[list[Any]]:
        waves = []
        for _ in range(2):
            answers = await asyncio.gather(*(post(n)(server, client) for n in range(8)))
            waves.append([r.json()["got"]["n"] for r in answers])
        return waves

    server, waves = run(slow_echo, scenario)

    assert waves == [list(range(8))] * 2
    assert server.connections == 8  # the second wave found the first wave's connections idle


def test_a_chunked_answer_is_read_whole() -> None:
    async def chunked(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b'{"status":', b" 200}"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        return True

    server, responses = run(chunked, posts(2))

    assert [(r.status_code, r.json()) for r in responses] == [(201, {"status": 200})] * 2
    assert server.connections == 1


def test_a_compressed_answer_is_decoded() -> None:
    async def gzipped(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(gzip.compress(b'{"ok":true}'), b"content-encoding: gzip\r\n"))
        return True

    _, response = run(gzipped, post())

    assert response.json() == {"ok": True}


def test_an_answer_that_ends_with_its_connection_is_read_whole() -> None:
    async def unframed(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"ok":')
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(b"true}")
        return False

    server, responses = run(unframed, posts(2))

    assert [r.json() for r in responses] == [{"ok": True}] * 2
    assert server.connections == 2


def test_an_answer_that_closes_its_connection_is_not_kept() -> None:
    async def closing(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b"{}", b"connection: close\r\n"))
        return False

    server, responses = run(closing, posts(3))

    assert [r.status_code for r in responses] == [200] * 3
    assert server.connections == 3


def test_a_connection_the_app_closed_while_idle_is_replaced_without_failing_the_call() -> None:
    async def answer_then_hang_up(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        await echo(head, body, writer)
        return False  # says nothing of it, as a server whose keep-alive timeout ran out

    async def scenario(server: Server, client: httpx.AsyncClient) -> list[httpx.Response]:
        first = await post(1)(server, client)
        await server.handlers[0]  # the app has hung up; the next call may or may not know yet
        return [first, await post(2)(server, client)]

    server, responses = run(answer_then_hang_up, scenario)

    assert [r.json() for r in responses] == [{"got": {"n": 1}}, {"got": {"n": 2}}]
    assert server.connections == 2


def test_a_connection_idle_too_long_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "IDLE_S", 0.0)

    server, responses = run(echo, posts(2))

    assert [r.status_code for r in responses] == [200, 200]
    assert server.connections == 2


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"", "closed the connection without answering"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}", "closed the connection mid-answer"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", "malformed HTTP answer"),
        (b"not http at all\r\n\r\n", "malformed HTTP answer"),
    ],
    ids=["no-answer", "cut-short", "bad-length", "not-http"],
)
def test_a_broken_answer_is_a_protocol_error(reply: bytes, message: str) -> None:
    async def broken(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply)
        return False

    server, error = run(broken, failing(httpx.RemoteProtocolError))

    assert message in error
    assert server.connections == 1  # failed once, not retried on new connections


def test_an_app_that_does_not_answer_in_time_is_a_read_timeout() -> None:
    async def silent(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.Event().wait()  # never answers
        return False

    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(server.url, content=b"{}", timeout=httpx.Timeout(0.1))

    run(silent, scenario)


def test_nothing_listening_is_a_connect_error() -> None:
    async def scenario(server: Server, client: httpx.AsyncClient) -> None:
        server.server.close()
        await server.server.wait_closed()
        with pytest.raises(httpx.ConnectError):
            await post()(server, client)

    run(echo, scenario)


def test_https_goes_to_the_fallback_transport() -> None:
    seen: list[str] = []

    def fallback(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"via": "fallback"})

    async def scenario(server: Server, client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("https://app.example/api/inngest", content=b"{}")

    server, response = run(echo, scenario, fallback=httpx.MockTransport(fallback))

    assert response.json() == {"via": "fallback"}
    assert seen == ["https://app.example/api/inngest"]
    assert server.connections == 0


def test_a_streamed_request_body_is_sent_whole_with_its_length() -> None:
    async def scenario(server: Server, client: httpx.AsyncClient) -> httpx.Response:
        async def parts() -> Any:
            yield b'{"n":'
            yield b"7}"

        return await client.post(server.url, content=parts())

    server, response = run(echo, scenario)

    assert response.json() == {"got": {"n": 7}}
    head, _ = server.requests[0]
    assert b"\r\nContent-Length: 7\r\n" in head and b"chunked" not in head.lower()


def test_the_environments_proxy_settings_are_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(server: Server, _: httpx.AsyncClient) -> list[Any]:
        monkeypatch.setenv("HTTP_PROXY", server.url.removesuffix("/api/inngest"))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with httpx.AsyncClient(transport=EngineTransport(keepalive=8)) as client:
            proxied = await client.post("http://app.example/api/inngest", content=b"1")
            direct = await client.post(server.url, content=b"2")
        return [proxied.json(), direct.json()]

    server, answers = run(echo, scenario)

    assert answers == [{"got": 1}, {"got": 2}]
    [proxied, direct] = [head for head, _ in server.requests]
    assert proxied.startswith(b"POST http://app.example/api/inngest HTTP/1.1\r\n")
    assert direct.startswith(b"POST /api/inngest HTTP/1.1\r\n")


@pytest.mark.parametrize(
    "head",
    [b"content-length: 2097152\r\n", b"transfer-encoding: chunked\r\n"],
    ids=["said-length", "endless-chunks"],
)
def test_an_answer_over_the_limit_is_dropped_as_it_arrives(
    monkeypatch: pytest.MonkeyPatch, head: bytes
) -> None:
    monkeypatch.setattr(transport_module, "MAX_ANSWER_SIZE", 1024 * 1024)

    async def flood(_request: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n")
        chunked = b"chunked" in head
        part = b"x" * 65536
        for _ in range(32):  # 2 MiB, then chunks for as long as the connection lasts
            writer.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            await writer.drain()
        while chunked:
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
        return False

    _, error = run(flood, failing(transport_module.AnswerTooLarge))

    assert error == "the app's answer is over 1 MiB, the most it may be"


@pytest.mark.parametrize(
    "line",
    [lambda n: b"x-filler-%d: %s\r\n" % (n, b"y" * 100), lambda n: b"y" * 100],
    ids=["endless-headers", "one-endless-header"],
)
def test_an_answer_with_endless_headers_is_dropped(line: Callable[[int], bytes]) -> None:
    async def flood(_request: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nx-long: ")
        for n in range(100_000):
            writer.write(line(n))
            await writer.drain()
        return False

    _, error = run(flood, failing(httpx.RemoteProtocolError))

    assert error == "the app's answer has over 64 KiB of headers"
