"""Size limits on what the engine is sent: 413 with the limit in the message, nothing stored.

Defaults (flags --max-request-size, --max-event-size): a request body of at most 3 MiB, Inngest's
absolute maximum event size, and events of at most 256 KiB, Inngest Cloud's free-plan limit. An
event is measured as compact JSON; one oversize event refuses its whole request. The body is read
in chunks and refused once past the limit, so a body that never ends still gets its answer.
"""

import json
import select
import socket
from pathlib import Path
from typing import Any

import httpx
import inngest

from tests.engine.harness import Harness, harness, slug

DEFAULT_REQUEST = 3 * 1024 * 1024
DEFAULT_EVENT = 256 * 1024


def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="noop", trigger=inngest.TriggerEvent(event="app/noop"))
    async def noop(ctx: inngest.Context) -> None:
        return None

    return [noop]


def event_of_size(size: int, name: str = "app/big") -> dict[str, Any]:
    """An event whose compact JSON is exactly `size` bytes."""
    event = {"name": name, "data": {"s": ""}}
    event["data"]["s"] = "x" * (size - len(json.dumps(event, separators=(",", ":"))))
    return event


def post(h: Harness, body: Any, path: str = "/e/test-key") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return h.http.post(path, content=content, headers={"content-type": "application/json"})


def stored_events(h: Harness) -> list[str]:
    events = h.http.get("/v1/events", params={"limit": 51}).json()["data"]
    return [event["name"] for event in events]


def refused(response: httpx.Response, named: str) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["status"] == 413
    assert body["ids"] == []
    assert named in body["error"], body["error"]


def test_default_limits_take_an_event_of_256_kib_and_refuse_one_byte_more(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, make) as h:
        over = post(h, event_of_size(DEFAULT_EVENT + 1))
        batch = post(h, [event_of_size(100, "app/small"), event_of_size(DEFAULT_EVENT + 1)])
        after_refusals = stored_events(h)
        exact = post(h, event_of_size(DEFAULT_EVENT))
        after_exact = stored_events(h)

    refused(over, f"Event is over the max size: Max {DEFAULT_EVENT} bytes / Size 262145 bytes")
    refused(batch, "(event 1)")
    assert after_refusals == []  # not even the batch's small event
    assert exact.status_code == 200, exact.text
    assert after_exact == ["app/big"]


def test_default_limits_refuse_a_body_over_3_mib(tmp_path: Path) -> None:
    events = [event_of_size(200_000, f"app/part-{i}") for i in range(16)]  # each under 256 KiB
    with harness(tmp_path, make) as h:
        response = post(h, events)
        after = stored_events(h)

    assert len(json.dumps(events)) > DEFAULT_REQUEST
    refused(response, f"Request body cannot exceed {DEFAULT_REQUEST} bytes")
    assert after == []


def test_configured_limits_apply_to_every_route_that_reads_a_body(tmp_path: Path) -> None:
    limits = {"max_request_size": 10_000, "max_event_size": 1_000}
    with harness(tmp_path, make, **limits) as h:
        big_event = post(h, event_of_size(1_001))
        many_small = post(h, [event_of_size(900, f"app/e{i}") for i in range(12)])
        chunked = h.http.post("/e/test-key", content=iter([b"[", b" " * 20_000, b"]"]))
        register = post(h, {"appname": "x", "url": "http://x", "pad": "x" * 10_000}, "/fn/register")
        cancel = post(h, {"app_id": "x", "pad": "x" * 10_000}, "/v1/cancellations")
        fits = post(h, [event_of_size(900, "app/fits")] * 3)
        after = stored_events(h)
        functions = h.http.get("/dev").json()["functions"]

    refused(big_event, "Max 1000 bytes / Size 1001 bytes")
    refused(many_small, "Request body cannot exceed 10000 bytes")
    refused(chunked, "Request body cannot exceed 10000 bytes")
    assert register.status_code == 413
    assert "10000 bytes" in register.json()["error"]
    assert cancel.status_code == 413
    assert cancel.json() == {
        "error": "Request body cannot exceed 10000 bytes",
        "status": 413,
        "data": None,
    }
    assert fits.status_code == 200, fits.text
    assert after == ["app/fits"] * 3
    assert functions == [slug("noop")]  # the oversize register changed nothing


def test_a_body_that_never_ends_is_answered_once_past_the_limit(tmp_path: Path) -> None:
    chunk = b" " * 65_536
    with harness(tmp_path, make, max_request_size=100_000) as h:
        with socket.create_connection(("127.0.0.1", h.engine.port)) as sock:
            sock.sendall(
                b"POST /e/test-key HTTP/1.1\r\nHost: engine\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"1\r\n[\r\n"
            )
            for _ in range(1_000):  # up to 64 MiB, never the final chunk
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:  # the engine answered and closed the connection
                    break
                if select.select([sock], [], [], 0.01)[0]:
                    break
            answer = _whole_answer(sock)
        after = stored_events(h)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
    assert b"Request body cannot exceed 100000 bytes" in answer
    assert after == []


def _whole_answer(sock: socket.socket) -> bytes:
    """The status line, headers and body of one HTTP/1.1 answer, however they are split."""
    sock.settimeout(10)
    answer = b""
    while b"\r\n\r\n" not in answer and (data := sock.recv(65_536)):
        answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length and (data := sock.recv(65_536)):
        body += data
    return head + b"\r\n\r\n" + body
