"""Files in flight share embedding requests: each file still gets exactly its own vectors, and an
error lands on the file it belongs to. OpenAI is a faked endpoint; the local model really runs."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from service.embeddings import EmbeddingError, LocalEmbedder
from service.shared_embeddings import SharedEmbedder
from tests.in_flight import InFlight
from tests.service.test_embeddings import (
    embeddings_answer,
    fake_vector,
    make_openai,
    unit,
)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not met within 5 s")


def inputs_of(request: httpx.Request) -> list[str]:
    inputs: list[str] = json.loads(request.content)["input"]
    return inputs


def shared(router: respx.Router, handler: Handler, **limits: int) -> SharedEmbedder:
    router.post("/embeddings").mock(side_effect=handler)
    options = {"max_inputs": 2048, "max_tokens": 300_000, "concurrency": 1, **limits}
    return SharedEmbedder(make_openai(router), **options)


def files(count: int, chunks: int = 3) -> list[list[str]]:
    return [[f"file {f} chunk {c}" for c in range(chunks)] for f in range(count)]


def close(vectors: list[list[float]], texts: list[str]) -> bool:
    expected = [unit(fake_vector(text)) for text in texts]
    return all(
        max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-5
        for got, want in zip(vectors, expected, strict=True)
    )


def test_files_embedded_at_once_share_requests_and_each_gets_its_own_vectors(
    openai_router: respx.Router,
) -> None:
    requests: list[list[str]] = []
    first_sent = asyncio.Event()
    release = asyncio.Event()

    async def server(request: httpx.Request) -> httpx.Response:
        requests.append(inputs_of(request))
        if len(requests) == 1:  # hold the first request until every file has queued its chunks
            first_sent.set()
            await release.wait()
        return embeddings_answer(request)

    embedder = shared(openai_router, server)
    texts = files(6)

    async def scenario() -> list[list[list[float]]]:
        first = asyncio.create_task(embedder.embed(texts[0]))
        await first_sent.wait()
        rest = [asyncio.create_task(embedder.embed(t)) for t in texts[1:]]
        await until(lambda: embedder.queued == 15)
        release.set()
        return [await first, *[await task for task in rest]]

    results = asyncio.run(scenario())

    assert requests == [texts[0], [text for file in texts[1:] for text in file]]
    assert all(close(vectors, file) for vectors, file in zip(results, texts, strict=True))


def test_requests_stay_within_the_limits_and_use_every_slot(
    openai_router: respx.Router,
) -> None:
    requests: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(inputs_of(request))
        return embeddings_answer(request)

    server = InFlight(answer)

    embedder = shared(openai_router, server, max_inputs=5, concurrency=3)
    texts = files(10)

    async def scenario() -> list[list[list[float]]]:
        return list(await asyncio.gather(*(embedder.embed(t) for t in texts)))

    results = asyncio.run(scenario())

    assert all(close(vectors, file) for vectors, file in zip(results, texts, strict=True))
    assert sorted(t for r in requests for t in r) == sorted(t for f in texts for t in f)
    assert max(len(r) for r in requests) <= 5
    assert server.most == 3  # never more than the concurrency, and it is used
    assert len(requests) < len(texts)  # fewer requests than one per file


def test_a_request_over_the_token_limit_is_cut(openai_router: respx.Router) -> None:
    requests: list[list[str]] = []

    async def server(request: httpx.Request) -> httpx.Response:
        requests.append(inputs_of(request))
        return embeddings_answer(request)

    embedder = shared(openai_router, server, max_tokens=12)
    words = ["alpha beta gamma delta"] * 6  # 4 tokens each

    asyncio.run(embedder.embed(words))

    assert [len(r) for r in requests] == [3, 3]


def test_an_input_refused_for_good_fails_only_its_file(openai_router: respx.Router) -> None:
    sent: list[list[str]] = []

    async def server(request: httpx.Request) -> httpx.Response:
        texts = inputs_of(request)
        sent.append(texts)
        if any("poison" in text for text in texts):
            message = "Invalid 'input[0]': the content was refused."
            return httpx.Response(400, json={"error": {"message": message}})
        return embeddings_answer(request)

    embedder = shared(openai_router, server)
    texts = files(4)
    texts[2][1] = "file 2 poison chunk"

    async def scenario() -> list[Any]:
        return list(
            await asyncio.gather(*(embedder.embed(t) for t in texts), return_exceptions=True)
        )

    results = asyncio.run(scenario())

    error = results[2]
    assert isinstance(error, EmbeddingError) and not error.retriable
    assert "HTTP 400" in str(error) and "the content was refused" in str(error)
    for index in (0, 1, 3):
        assert close(results[index], texts[index])
    assert ["file 2 poison chunk"] in sent  # it was found alone: split until it was


def test_a_retriable_error_fails_the_files_of_that_request_with_the_wait_asked(
    openai_router: respx.Router,
) -> None:
    async def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, headers={"retry-after": "7"}, json={"error": {"message": "Rate limit reached"}}
        )

    embedder = shared(openai_router, server)

    async def scenario() -> list[Any]:
        calls = (embedder.embed(t) for t in files(2))
        return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(scenario())

    for error in results:
        assert isinstance(error, EmbeddingError) and error.retriable
        assert error.retry_after == 7.0 and "Rate limit reached" in str(error)


def test_an_input_longer_than_the_model_takes_fails_at_once(openai_router: respx.Router) -> None:
    embedder = shared(openai_router, embeddings_answer_async, max_tokens=300_000)

    with pytest.raises(
        EmbeddingError,
        match=r"input 1 has 9\d{3} tokens; text-embedding-3-small takes at most 8192",
    ):
        asyncio.run(embedder.embed(["short", "word " * 9000]))
    assert not openai_router.calls


def test_a_cancelled_file_sends_none_of_its_waiting_chunks(openai_router: respx.Router) -> None:
    requests: list[list[str]] = []
    release = asyncio.Event()

    async def server(request: httpx.Request) -> httpx.Response:
        requests.append(inputs_of(request))
        await release.wait()
        return embeddings_answer(request)

    embedder = shared(openai_router, server)
    texts = files(3)

    async def scenario() -> None:
        first = asyncio.create_task(embedder.embed(texts[0]))
        await until(lambda: bool(requests))
        cancelled = asyncio.create_task(embedder.embed(texts[1]))
        kept = asyncio.create_task(embedder.embed(texts[2]))
        await until(lambda: embedder.queued == 6)  # both wait behind the first request
        cancelled.cancel()
        release.set()
        await first
        assert close(await kept, texts[2])

    asyncio.run(scenario())

    assert requests == [texts[0], texts[2]]


async def embeddings_answer_async(request: httpx.Request) -> httpx.Response:
    return embeddings_answer(request)


def test_the_local_model_shared_by_files_gives_each_the_vectors_it_gives_alone() -> None:
    local = LocalEmbedder()
    embedder = SharedEmbedder(local, max_inputs=32, max_tokens=254, concurrency=1)
    texts = [[f"How do I rotate key {n}?", f"Section {n} on deployments"] for n in range(8)]

    async def scenario() -> tuple[list[list[list[float]]], list[list[list[float]]]]:
        together = list(await asyncio.gather(*(embedder.embed(t) for t in texts)))
        alone = [await local.embed(t) for t in texts]
        return together, alone

    together, alone = asyncio.run(scenario())

    for mine, reference in zip(together, alone, strict=True):
        for a, b in zip(mine, reference, strict=True):
            assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-4


def test_one_small_file_is_one_request_however_many_slots_are_free(
    openai_router: respx.Router,
) -> None:
    requests: list[list[str]] = []

    async def server(request: httpx.Request) -> httpx.Response:
        requests.append(inputs_of(request))
        return embeddings_answer(request)

    embedder = shared(openai_router, server, concurrency=4)
    (texts,) = files(1, chunks=5)

    asyncio.run(embedder.embed(texts))

    assert requests == [texts]
