"""An OpenAI-compatible embeddings endpoint on loopback that misbehaves on purpose.

`POST /v1/embeddings` answers as OpenAI does: one vector per input, a vector that depends only on
its text (base64 of little-endian float32 when asked, as the openai SDK always asks), `usage`, an
`x-request-id` and OpenAI's rate-limit headers. Around that it can be told to:

- storm (`Storm`): fail 30 % of the requests on a seeded schedule, three of every ten, with a 429
  carrying `retry-after` and OpenAI's rate-limit body and headers, or a 500, 502 or 503 as
  OpenAI's servers and the gateway in front of them send them;
- refuse an input for good (`refuse`): a request holding an input with this marker is answered
  400 with OpenAI's "maximum context length" message, every time;
- hold (`hold()` / `release()`): requests wait before they are answered.

The 500 and 503 carry OpenAI's rate-limit headers as its API's answers do: they say the
account's budget refills within milliseconds, which is no reason to send again that soon.

Every request is recorded with its inputs and its arrival and answer times on the monotonic
clock, so a test can check what the client did: which inputs went together, and how long it
waited before sending a failed request's inputs again. A request's place in the storm's schedule
is the order in which it arrived, and the storm comes before the marker is looked at, as a rate
limiter in front of the model would.
"""

import asyncio
import base64
import hashlib
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import fastapi
import numpy as np
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tests.engine.harness import AppThread

RATE_LIMITED = 429
RETRY_AFTER_S = 1
SERVER_ERRORS = (500, 502, 503)
#: The failures of a storm in the order they are dealt out: half 429s, half server errors.
FAULTS = (429, 500, 429, 502, 429, 503)
REFUSED = 400
#: OpenAI's answer to an input longer than the model's context.
REFUSAL = (
    "This model's maximum context length is 8192 tokens, however you requested 9000 tokens "
    "(9000 in your prompt; 0 for the completion). Please reduce your prompt; or completion length."
)
RPM, TPM = 3000, 1_000_000
_ORGANIZATION = "org-fault-suite"
_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Storm:
    """Which requests fail: in every block of `block` requests, `rate` of them at positions
    drawn from a generator seeded with `seed` and the block's number."""

    seed: int
    rate: float = 0.3
    block: int = 10

    def fault(self, number: int) -> int | None:
        """The status request `number` (from 0) is failed with, or None: it is answered."""
        block, position = divmod(number, self.block)
        picks = random.Random(f"{self.seed}:{block}").sample(
            range(self.block), round(self.block * self.rate)
        )
        failing = sorted(picks)
        if position not in failing:
            return None
        return FAULTS[(block * len(failing) + failing.index(position)) % len(FAULTS)]


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it got."""

    number: int
    inputs: tuple[str, ...]
    arrived: float  # time.monotonic()
    answered: float
    status: int
    retry_after: float | None  # what the answer asked the client to wait, if it did


def vector_for(text: str, dimension: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dimension, dtype=np.float32)


def _openai_error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeProvider:
    """The endpoint, on a loopback port of its own until `stop`."""

    def __init__(
        self, *, dimension: int, storm: Storm | None = None, refuse: str | None = None
    ) -> None:
        self.dimension = dimension
        self.storm = storm
        self.refuse = refuse
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._arrivals = 0
        self._open = threading.Event()
        self._open.set()
        self._waiting = 0
        self._server = AppThread(self._app())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/v1"

    @property
    def exchanges(self) -> list[Exchange]:
        """Every answered request so far, in the order the answers left."""
        with self._lock:
            return list(self._exchanges)

    @property
    def waiting(self) -> int:
        """Requests held now (see `hold`)."""
        with self._lock:
            return self._waiting

    def hold(self) -> None:
        """Requests that arrive from now on wait until `release`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def stop(self) -> None:
        self.release()
        self._server.stop()

    def _app(self) -> fastapi.FastAPI:
        app = fastapi.FastAPI()

        @app.post("/v1/embeddings")
        async def embeddings(request: fastapi.Request) -> Response:
            body = await request.json()
            inputs = body["input"]
            texts: list[str] = [inputs] if isinstance(inputs, str) else list(inputs)
            arrived = time.monotonic()
            with self._lock:
                number = self._arrivals
                self._arrivals += 1
            await self._gate()
            model, encoding = str(body.get("model", "")), body.get("encoding_format")
            response = self._answer(number, texts, model, encoding)
            retry_after = response.headers.get("retry-after")
            exchange = Exchange(
                number,
                tuple(texts),
                arrived,
                time.monotonic(),
                response.status_code,
                float(retry_after) if retry_after is not None else None,
            )
            with self._lock:
                self._exchanges.append(exchange)
            return response

        return app

    async def _gate(self) -> None:
        if self._open.is_set():
            return
        with self._lock:
            self._waiting += 1
        try:
            await asyncio.to_thread(self._open.wait)
        finally:
            with self._lock:
                self._waiting -= 1

    def _answer(self, number: int, texts: list[str], model: str, encoding: object) -> Response:
        request_id = {"x-request-id": f"req_{number:08d}"}
        fault = self.storm.fault(number) if self.storm is not None else None
        if fault == RATE_LIMITED:
            message = (
                f"Rate limit reached for {model} in organization {_ORGANIZATION} on requests per "
                f"min (RPM): Limit {RPM}, Used {RPM}, Requested 1. Please try again in "
                f"{RETRY_AFTER_S}s. Visit https://platform.openai.com/account/rate-limits to "
                "learn more."
            )
            headers = request_id | _rate_limits(0) | {"retry-after": str(RETRY_AFTER_S)}
            body = _openai_error(message, "requests", "rate_limit_exceeded")
            return JSONResponse(body, status_code=fault, headers=headers)
        if fault == 502:  # from the gateway in front of the API: none of OpenAI's headers
            return PlainTextResponse(_BAD_GATEWAY, status_code=fault, media_type="text/html")
        if fault is not None:
            message = (
                "The server had an error while processing your request. Sorry about that!"
                if fault == 500
                else "The engine is currently overloaded, please try again later."
            )
            body = _openai_error(message, "server_error", None)
            return JSONResponse(body, status_code=fault, headers=request_id | _rate_limits(RPM))
        if self.refuse is not None and any(self.refuse in text for text in texts):
            body = _openai_error(REFUSAL, "invalid_request_error", None)
            return JSONResponse(body, status_code=REFUSED, headers=request_id | _rate_limits(RPM))
        data = []
        for index, text in enumerate(texts):
            vector = vector_for(text, self.dimension)
            embedding: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                if encoding == "base64"
                else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(text.split()) for text in texts)
        body = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return JSONResponse(body, headers=request_id | _rate_limits(RPM - 1))


def _rate_limits(remaining_requests: int) -> dict[str, str]:
    """OpenAI's rate-limit headers: an account far from its token limit, with
    `remaining_requests` requests left this minute."""
    return {
        "x-ratelimit-limit-requests": str(RPM),
        "x-ratelimit-remaining-requests": str(remaining_requests),
        "x-ratelimit-reset-requests": "20ms" if remaining_requests else f"{RETRY_AFTER_S}s",
        "x-ratelimit-limit-tokens": str(TPM),
        "x-ratelimit-remaining-tokens": str(TPM - 1000),
        "x-ratelimit-reset-tokens": "60ms",
    }
