"""An OpenAI-compatible embeddings server for benchmarks: fixed latency, deterministic vectors.

`POST /v1/embeddings` waits --latency-ms (an `asyncio.sleep`, so concurrent requests overlap, as
they do at OpenAI) and answers one vector per input in OpenAI's response format, as a list of
floats or, when the request asks for `encoding_format: base64` (the openai SDK always does), as
base64 of little-endian float32. A vector depends only on its text and dimension (`dimensions` in
the request, else --dimension). `GET /stats` tells what was asked since the last
`POST /stats/reset`: requests, inputs, the most requests in flight at once, when the first
request came and the last answer left, and a short hash of every input text, so a benchmark can
check exactly which chunks were embedded.

Run by bench/ingest.py in a process of its own (`python bench/fake_embeddings.py --port N`), so
that it shares no interpreter lock with what it serves. Not a test: nothing imports it.
"""

import argparse
import asyncio
import base64
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEFAULT_DIMENSION = 1536  # text-embedding-3-small, the service's default OpenAI model
BASE64 = "base64"


def text_hash(text: str) -> str:
    """The short hash /stats lists for each input; bench/ingest.py computes the same."""
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def vector_for(text: str, dimension: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dimension, dtype=np.float32)


@dataclass
class Counters:
    requests: int = 0
    inputs: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    first_arrival: float | None = None  # wall-clock time.time() of the first request
    last_answer: float | None = None  # and of the last answer
    hashes: list[str] = field(default_factory=list)


def create_app(latency_s: float, default_dimension: int) -> Starlette:
    counters = Counters()

    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        inputs = body["input"]
        texts: list[str] = [inputs] if isinstance(inputs, str) else list(inputs)
        if counters.first_arrival is None:
            counters.first_arrival = time.time()
        counters.requests += 1
        counters.inputs += len(texts)
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
        tokens = sum(len(text.split()) for text in texts)
        counters.last_answer = time.time()
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "requests": counters.requests,
                "inputs": counters.inputs,
                "peak_in_flight": counters.peak_in_flight,
                "first_arrival": counters.first_arrival,
                "last_answer": counters.last_answer,
                "hashes": counters.hashes,
            }
        )

    async def reset(_: Request) -> JSONResponse:
        counters.requests = counters.inputs = 0
        counters.peak_in_flight = counters.in_flight
        counters.first_arrival = counters.last_answer = None
        counters.hashes = []
        return JSONResponse({"ok": True})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/stats", stats, methods=["GET"]),
            Route("/stats/reset", reset, methods=["POST"]),
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
    args = parser.parse_args()
    app = create_app(args.latency_ms / 1000, args.dimension)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
