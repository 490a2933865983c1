"""An OpenAI-compatible embeddings server for benchmarks: fixed latency, deterministic vectors,
and OpenAI's per-minute rate limits when asked for.

`POST /v1/embeddings` waits --latency-ms (an `asyncio.sleep`, so concurrent requests overlap, as
they do at OpenAI) and answers one vector per input in OpenAI's response format, as a list of
floats or, when the request asks for `encoding_format: base64` (the openai SDK always does), as
base64 of little-endian float32. A vector depends only on its text and dimension (`dimensions` in
the request, else --dimension). Tokens are counted as the service counts them (cl100k_base,
`service.embeddings`), so `usage` and the limits agree with the service's own sums.

Rate limits (--rpm, --tpm or `POST /limits {"rpm": N, "tpm": N, "fresh": false}`; 0 = off) work
as OpenAI's: each is a budget of N a minute, refilled continuously, that a request spends (one
request, its tokens) when it is admitted. A request that does not fit is answered at once with
429, a `retry-after` in whole seconds (rounded up, as HTTP has it) and OpenAI's error body, and
spends nothing (OpenAI says refused requests count too; here they do not, or a client's retries
under a small RPM would keep the budget spent for good). Every answer carries OpenAI's headers:
`x-ratelimit-limit-*`, `x-ratelimit-remaining-*` (after this request) and `x-ratelimit-reset-*`
(until the budget is full again, in OpenAI's durations: `20ms`, `1.2s`, `6m0s`). A request of
more tokens than the TPM is refused for good ("Request too large", 429 without `retry-after`).
Budgets start spent, as after a minute of work at the limit, so a run gets the refill rate from
its first request and tokens / TPM is its floor; `fresh` starts them full, as a new account's
(one minute's worth goes at once).

`GET /stats` tells what was asked since the last `POST /stats/reset` (which also starts the
budgets again): requests answered with vectors, their inputs and tokens, requests answered 429
(and how many of those were too large), the most requests in flight at once, when the first
request came and the last answer left, and a short hash of every input embedded, so a benchmark
can check exactly which chunks were embedded.

Run by bench/ingest.py in a process of its own (`python bench/fake_embeddings.py --port N`), so
that it shares no interpreter lock with what it serves. Not a test: bench/ingest.py imports
its `text_hash`, nothing else imports it.
"""

import argparse
import asyncio
import base64
import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from service.embeddings import _count_openai_tokens

DEFAULT_DIMENSION = 1536  # text-embedding-3-small, the service's default OpenAI model
BASE64 = "base64"
ORGANIZATION = "org-fake"
LIMITS_URL = "https://platform.openai.com/account/rate-limits"


def text_hash(text: str) -> str:
    """The short hash /stats lists for each input; bench/ingest.py computes the same."""
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def vector_for(text: str, dimension: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dimension, dtype=np.float32)


def go_duration(seconds: float) -> str:
    """A wait as OpenAI writes it (Go's durations, to the millisecond, rounded up)."""
    milliseconds = math.ceil(seconds * 1000)
    if milliseconds <= 0:
        return "0s"
    if milliseconds < 1000:
        return f"{milliseconds}ms"
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


@dataclass
class Budget:
    """One per-minute limit: `limit` units a minute, refilled continuously up to `limit`."""

    limit: int
    level: float
    at: float

    def refill(self, now: float) -> None:
        self.level = min(self.limit, self.level + (now - self.at) * self.limit / 60)
        self.at = now

    def wait_for(self, units: float) -> float:
        """Seconds until `units` fit."""
        return max(0.0, (units - self.level) * 60 / self.limit)

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.level))

    def headers(self, name: str) -> dict[str, str]:
        return {
            f"x-ratelimit-limit-{name}": str(self.limit),
            f"x-ratelimit-remaining-{name}": str(self.remaining),
            f"x-ratelimit-reset-{name}": go_duration((self.limit - self.level) * 60 / self.limit),
        }


@dataclass
class Limits:
    rpm: int = 0
    tpm: int = 0
    fresh: bool = False  # budgets start full (a new account) rather than spent
    requests: Budget | None = None
    tokens: Budget | None = None

    def restart(self) -> None:
        now = time.monotonic()
        self.requests = Budget(self.rpm, self.rpm if self.fresh else 0, now) if self.rpm else None
        self.tokens = Budget(self.tpm, self.tpm if self.fresh else 0, now) if self.tpm else None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, budget in (("requests", self.requests), ("tokens", self.tokens)):
            if budget is not None:
                headers |= budget.headers(name)
        return headers

    def admit(self, tokens: int, model: str) -> JSONResponse | None:
        """Spend a request of `tokens` tokens, or the 429 that refuses it."""
        now = time.monotonic()
        for budget in (self.requests, self.tokens):
            if budget is not None:
                budget.refill(now)
        if self.tokens is not None and tokens > self.tokens.limit:
            message = (
                f"Request too large for {model} in organization {ORGANIZATION} on tokens per min"
                f" (TPM): Limit {self.tokens.limit}, Requested {tokens}. The input or output"
                f" tokens must be reduced in order to run successfully. Visit {LIMITS_URL} to"
                " learn more."
            )
            return self._refused(message, "tokens", None)
        waits = []
        if self.requests is not None and self.requests.level < 1:
            waits.append(("requests", "RPM", self.requests, 1, self.requests.wait_for(1)))
        if self.tokens is not None and self.tokens.level < tokens:
            waits.append(("tokens", "TPM", self.tokens, tokens, self.tokens.wait_for(tokens)))
        if not waits:
            if self.requests is not None:
                self.requests.level -= 1
            if self.tokens is not None:
                self.tokens.level -= tokens
            return None
        kind, short, budget, requested, _ = waits[0]
        wait = max(seconds for *_, seconds in waits)
        used = budget.limit - budget.remaining
        message = (
            f"Rate limit reached for {model} in organization {ORGANIZATION} on {kind} per min"
            f" ({short}): Limit {budget.limit}, Used {used}, Requested {requested}. Please try"
            f" again in {go_duration(wait)}. Visit {LIMITS_URL} to learn more."
        )
        return self._refused(message, kind, wait)

    def _refused(self, message: str, kind: str, wait: float | None) -> JSONResponse:
        headers = self.headers()
        if wait is not None:
            headers["retry-after"] = str(max(1, math.ceil(wait)))
        error = {"message": message, "type": kind, "param": None, "code": "rate_limit_exceeded"}
        return JSONResponse({"error": error}, status_code=429, headers=headers)


@dataclass
class Counters:
    requests: int = 0  # answered with vectors
    inputs: int = 0
    tokens: int = 0
    refused: int = 0  # answered 429
    too_large: int = 0  # of which: more tokens than the TPM
    in_flight: int = 0
    peak_in_flight: int = 0
    first_arrival: float | None = None  # wall-clock time.time() of the first request
    last_answer: float | None = None  # and of the last answer
    hashes: list[str] = field(default_factory=list)


def create_app(latency_s: float, default_dimension: int, limits: Limits) -> Starlette:
    counters = Counters()
    limits.restart()

    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        inputs = body["input"]
        texts: list[str] = [inputs] if isinstance(inputs, str) else list(inputs)
        model = str(body.get("model", "fake"))
        if counters.first_arrival is None:
            counters.first_arrival = time.time()
        tokens = sum(_count_openai_tokens(text) for text in texts)
        refusal = limits.admit(tokens, model)
        if refusal is not None:
            counters.refused += 1
            counters.too_large += "retry-after" not in refusal.headers
            return refusal
        headers = limits.headers()
        counters.requests += 1
        counters.inputs += len(texts)
        counters.tokens += tokens
        counters.hashes.extend(text_hash(text) for text in texts)
        counters.in_flight += 1
        counters.peak_in_flight = max(counters.peak_in_flight, counters.in_flight)
        try:
            await asyncio.sleep(latency_s)
        finally:
            counters.in_flight -= 1
        dimension = int(body.get("dimensions") or default_dimension)
        as_base64 = body.get("encoding_format") == BASE64
        data = []
        for index, text in enumerate(texts):
            vector = vector_for(text, dimension)
            embedding: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                if as_base64
                else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        counters.last_answer = time.time()
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers=headers,
        )

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "requests": counters.requests,
                "inputs": counters.inputs,
                "tokens": counters.tokens,
                "refused": counters.refused,
                "too_large": counters.too_large,
                "peak_in_flight": counters.peak_in_flight,
                "first_arrival": counters.first_arrival,
                "last_answer": counters.last_answer,
                "hashes": counters.hashes,
            }
        )

    async def reset(_: Request) -> JSONResponse:
        counters.requests = counters.inputs = counters.tokens = 0
        counters.refused = counters.too_large = 0
        counters.peak_in_flight = counters.in_flight
        counters.first_arrival = counters.last_answer = None
        counters.hashes = []
        limits.restart()
        return JSONResponse({"ok": True})

    async def set_limits(request: Request) -> JSONResponse:
        body = await request.json()
        limits.rpm, limits.tpm = int(body.get("rpm") or 0), int(body.get("tpm") or 0)
        limits.fresh = bool(body.get("fresh"))
        limits.restart()
        return JSONResponse({"rpm": limits.rpm, "tpm": limits.tpm, "fresh": limits.fresh})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/stats", stats, methods=["GET"]),
            Route("/stats/reset", reset, methods=["POST"]),
            Route("/limits", set_limits, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--dimension", type=int, default=DEFAULT_DIMENSION)
    parser.add_argument("--rpm", type=int, default=0, help="requests per minute; 0 = no limit")
    parser.add_argument("--tpm", type=int, default=0, help="tokens per minute; 0 = no limit")
    parser.add_argument("--fresh", action="store_true", help="budgets start full, not spent")
    args = parser.parse_args()
    limits = Limits(args.rpm, args.tpm, args.fresh)
    app = create_app(args.latency_ms / 1000, args.dimension, limits)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
