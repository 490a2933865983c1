"""Embedders: the local model really runs; the OpenAI one talks to a faked embeddings endpoint."""

import asyncio
import base64
import json
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
import respx
from tokenizers import BertWordPieceTokenizer

from service.embeddings import (
    EmbedderMismatch,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    _length_groups,
    check_store_model,
    create_embedder,
)
from service.settings import Settings
from service.shared_embeddings import SharedEmbedder
from tests.service.conftest import OPENAI_BASE

VOCAB = Path(__file__).parents[2] / "service" / "minilm" / "vocab.txt"
API_KEY = "sk-test-0123456789abcdef"
SMALL_DIMENSION = 1536


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- LocalEmbedder ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder()


def test_local_vectors_have_384_unit_norm_dimensions(local: LocalEmbedder) -> None:
    vectors = asyncio.run(local.embed(["How do I rotate an API token?", "Deploying with Docker"]))

    assert (local.model, local.dimension) == ("all-MiniLM-L6-v2", 384)
    assert [(len(v), v.dtype) for v in vectors] == [(384, np.float32)] * 2
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosine(vectors[0], vectors[1]) < 0.9


def test_local_paraphrase_is_closer_than_an_unrelated_sentence(local: LocalEmbedder) -> None:
    query, paraphrase, unrelated = asyncio.run(
        local.embed(
            [
                "How do I reset my password?",
                "Steps to change a forgotten account password",
                "The cat slept on the warm windowsill all afternoon.",
            ]
        )
    )

    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.2


def test_local_embeddings_are_deterministic_across_calls_and_instances(
    local: LocalEmbedder,
) -> None:
    texts = ["Chunks are sized by tokens.", "A store never mixes models."]

    first = asyncio.run(local.embed(texts))
    again = asyncio.run(local.embed(texts))
    other_instance = asyncio.run(LocalEmbedder(batch_size=1).embed(texts))

    assert np.array_equal(first, again)
    assert np.allclose(first, other_instance, atol=1e-6)


def test_local_batch_of_20_equals_embedding_each_alone(local: LocalEmbedder) -> None:
    # Different lengths, so every batch is padded and the mask has to hide the padding.
    texts = [
        f"Section {i}: " + "the ingestion pipeline embeds chunks " * (i % 6) for i in range(20)
    ]

    batched = asyncio.run(local.embed(texts))
    alone = [asyncio.run(local.embed([text]))[0] for text in texts]

    assert len(batched) == 20
    assert np.allclose(batched, alone, atol=1e-5)


def test_local_groups_texts_by_length_within_the_token_budget() -> None:
    lengths = [256, 12, 200, 30, 12, 60, 256, 40]

    groups = _length_groups(lengths, 256)

    assert sorted(index for group in groups for index in group) == list(range(8))
    for group in groups:
        assert len(group) * max(lengths[i] for i in group) <= 256 or len(group) == 1
    assert [[lengths[i] for i in group] for group in groups] == [
        [12, 12, 30, 40],
        [60],
        [200],
        [256],
        [256],
    ]


def test_local_text_longer_than_the_model_limit_is_embedded(local: LocalEmbedder) -> None:
    long_text = "Qdrant stores one point per chunk. " * 200

    (vector,) = asyncio.run(local.embed([long_text]))

    assert local.count_tokens(long_text) > local.max_input_tokens
    assert len(vector) == 384


def test_local_count_tokens_matches_the_wordpiece_tokenizer(local: LocalEmbedder) -> None:
    tokenizer = BertWordPieceTokenizer(str(VOCAB), lowercase=True)
    texts = ["Hello, world!", "Qdrant indexes vectors", "", "documentation " * 600]

    counts = [local.count_tokens(text) for text in texts]

    assert counts[0] == 4  # hello , world !  — no [CLS] or [SEP]
    assert counts == [len(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts]
    assert counts[3] > 256  # counted, not truncated


def test_local_embedding_leaves_the_event_loop_free(local: LocalEmbedder) -> None:
    async def scenario() -> int:
        embedding = asyncio.create_task(local.embed([f"text {i}" for i in range(40)]))
        ticks = 0
        while not embedding.done():
            ticks += 1
            await asyncio.sleep(0)
        await embedding
        return ticks

    # Run on the loop thread, the 5 batches would finish before a second tick.
    assert asyncio.run(scenario()) > 5


# --- OpenAIEmbedder --------------------------------------------------------------------------


def fake_vector(text: str, dimension: int = SMALL_DIMENSION) -> list[float]:
    """The fake server's embedding of `text`: stable, distinct per text, not normalised."""
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    return [float(x) for x in rng.standard_normal(dimension).astype(np.float32) * 3]


def unit(vector: list[float]) -> list[float]:
    return list(np.array(vector) / np.linalg.norm(vector))


def embeddings_answer(
    request: httpx.Request, *, reverse: bool = False, dimension: int | None = None
) -> httpx.Response:
    """An OpenAI-shaped answer; base64 when asked for, as the real API does."""
    body = json.loads(request.content)
    size = dimension or body.get("dimensions") or SMALL_DIMENSION
    data = []
    for index, text in enumerate(body["input"]):
        vector = fake_vector(text, size)
        encoded: object = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(np.array(vector, dtype=np.float32).tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    if reverse:
        data.reverse()
    return httpx.Response(
        200,
        json={
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        },
    )


def make_openai(router: respx.Router, **kwargs: object) -> OpenAIEmbedder:
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    return OpenAIEmbedder(http, api_key=API_KEY, base_url=OPENAI_BASE, **kwargs)  # type: ignore[arg-type]


def sent_bodies(route: respx.Route) -> list[dict[str, object]]:
    return [json.loads(call.request.content) for call in route.calls]


def embed_error(embedder: OpenAIEmbedder, texts: list[str]) -> EmbeddingError:
    with pytest.raises(EmbeddingError) as caught:
        asyncio.run(embedder.embed(texts))
    return caught.value


def test_openai_request_carries_model_and_inputs(openai_router: respx.Router) -> None:
    route = openai_router.post("/embeddings").mock(side_effect=embeddings_answer)
    embedder = make_openai(openai_router)

    vectors = asyncio.run(embedder.embed(["alpha", "beta"]))

    (body,) = sent_bodies(route)
    assert body["model"] == "text-embedding-3-small"
    assert body["input"] == ["alpha", "beta"]
    assert "dimensions" not in body
    assert route.calls[0].request.headers["authorization"] == f"Bearer {API_KEY}"
    assert np.allclose(vectors, [unit(fake_vector("alpha")), unit(fake_vector("beta"))], atol=1e-6)
    assert embedder.dimension == SMALL_DIMENSION


def test_openai_2100_inputs_go_in_two_requests(openai_router: respx.Router) -> None:
    route = openai_router.post("/embeddings").mock(side_effect=embeddings_answer)
    texts = [f"chunk {i}" for i in range(2100)]

    vectors = asyncio.run(make_openai(openai_router).embed(texts))

    assert [len(body["input"]) for body in sent_bodies(route)] == [2048, 52]  # type: ignore[arg-type]
    assert np.allclose(vectors[2099], unit(fake_vector("chunk 2099")), atol=1e-6)


@pytest.mark.filterwarnings("ignore:open_binary is deprecated:DeprecationWarning")
def test_openai_requests_stay_under_300k_tokens(openai_router: respx.Router) -> None:
    import bpe_openai

    route = openai_router.post("/embeddings").mock(side_effect=embeddings_answer)
    encoding = bpe_openai.get_encoding("cl100k_base")
    texts = [f"part {i} " + "token " * 7_000 for i in range(50)]
    counts = [len(encoding.encode_ordinary(text)) for text in texts]
    assert sum(counts) > 300_000 and max(counts) <= 8_192

    vectors = asyncio.run(make_openai(openai_router).embed(texts))

    sent = [body["input"] for body in sent_bodies(route)]
    assert len(sent) == 2
    assert [text for inputs in sent for text in inputs] == texts  # type: ignore[attr-defined]
    assert all(sum(counts[texts.index(t)] for t in inputs) <= 300_000 for inputs in sent)  # type: ignore[attr-defined]
    assert len(vectors) == 50


@pytest.mark.filterwarnings("ignore:open_binary is deprecated:DeprecationWarning")
def test_openai_token_counts_are_those_of_cl100k_base(openai_router: respx.Router) -> None:
    import bpe_openai

    encoding = bpe_openai.get_encoding("cl100k_base")
    texts = [
        "",
        "Hello, world!",
        "## Über uns\n\n日本語のテキスト, émojis 🚀 and   spaces\n\n",
        "def square(x):\n    return x ** 2  # 12345678\n" * 200,
        "a lone \ud800 surrogate",
    ]

    counts = [make_openai(openai_router).count_tokens(text) for text in texts]

    assert counts == [len(encoding.encode_ordinary(text)) for text in texts]
    assert counts[1] == 4


def test_openai_results_follow_index_when_answered_out_of_order(
    openai_router: respx.Router,
) -> None:
    openai_router.post("/embeddings").mock(
        side_effect=lambda request: embeddings_answer(request, reverse=True)
    )
    texts = ["first", "second", "third"]

    vectors = asyncio.run(make_openai(openai_router).embed(texts))

    assert np.allclose(vectors, [unit(fake_vector(t)) for t in texts], atol=1e-6)
    # Held as 4 bytes a dimension until a store writes them, not as lists of Python floats.
    assert all(v.dtype == np.float32 for v in vectors)


@pytest.mark.parametrize(
    ("headers", "expected_wait"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
        (
            {
                "x-ratelimit-remaining-requests": "99",
                "x-ratelimit-reset-requests": "20ms",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "1m30s",
            },
            90.0,
        ),
    ],
)
def test_openai_rate_limit_is_retriable_after_the_servers_wait(
    openai_router: respx.Router, headers: dict[str, str], expected_wait: float
) -> None:
    openai_router.post("/embeddings").respond(
        429, headers=headers, json={"error": {"message": "Rate limit reached", "type": "tokens"}}
    )

    error = embed_error(make_openai(openai_router), ["text"])

    assert error.retriable
    assert error.retry_after == pytest.approx(expected_wait)
    assert "429" in str(error) and "text-embedding-3-small" in str(error)


def test_a_server_error_waits_for_its_retry_after_not_for_the_budgets_reset(
    openai_router: respx.Router,
) -> None:
    """The rate-limit headers on a 5xx tell when the account's budget refills (milliseconds
    away), not when the server recovers: the caller backs off instead."""
    budget = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20ms"}
    openai_router.post("/embeddings").mock(
        side_effect=[
            httpx.Response(503, headers=budget, json={"error": {"message": "overloaded"}}),
            httpx.Response(502, headers=budget | {"retry-after": "3"}, json={"error": {}}),
        ]
    )
    embedder = make_openai(openai_router)

    without, with_wait = embed_error(embedder, ["text"]), embed_error(embedder, ["text"])

    assert without.retriable and without.retry_after is None
    assert with_wait.retriable and with_wait.retry_after == 3.0


@pytest.mark.parametrize("api_key", [API_KEY, "compatible-server-secret-42"])
@pytest.mark.parametrize("status", [400, 401, 403])
def test_openai_client_errors_are_not_retriable_and_never_show_the_key(
    openai_router: respx.Router, status: int, api_key: str
) -> None:
    openai_router.post("/embeddings").respond(
        status,
        json={"error": {"message": f"Incorrect API key provided: {api_key}.", "code": "bad"}},
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(openai_router.async_handler))
    embedder = OpenAIEmbedder(http, api_key=api_key, base_url=OPENAI_BASE)

    error = embed_error(embedder, ["text"])

    assert not error.retriable
    assert error.retry_after is None
    assert f"HTTP {status}" in str(error) and "text-embedding-3-small" in str(error)
    assert api_key not in "".join(traceback.format_exception(error))


@pytest.mark.parametrize(
    "failure",
    [
        lambda request: httpx.Response(503, json={"error": {"message": "overloaded"}}),
        lambda request: httpx.Response(500, text="upstream crashed"),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
    ],
    ids=["503", "500", "connect", "timeout"],
)
def test_openai_server_and_network_failures_are_retriable(
    openai_router: respx.Router, failure: Callable[[httpx.Request], httpx.Response] | Exception
) -> None:
    openai_router.post("/embeddings").mock(side_effect=failure)

    error = embed_error(make_openai(openai_router), ["text"])

    assert error.retriable
    assert "text-embedding-3-small" in str(error)


def test_openai_oversized_input_names_its_index_and_sends_nothing(
    openai_router: respx.Router,
) -> None:
    route = openai_router.post("/embeddings").mock(side_effect=embeddings_answer)
    embedder = make_openai(openai_router)
    oversized = "overflow " * 9_000

    error = embed_error(embedder, ["fine", "also fine", oversized])

    assert not error.retriable
    assert "input 2" in str(error)
    assert str(embedder.count_tokens(oversized)) in str(error)
    assert not route.called


def test_openai_wrong_number_of_embeddings_is_an_error(openai_router: respx.Router) -> None:
    openai_router.post("/embeddings").mock(
        side_effect=lambda request: embeddings_answer(
            httpx.Request("POST", request.url, json={**json.loads(request.content), "input": ["x"]})
        )
    )

    error = embed_error(make_openai(openai_router), ["one", "two"])

    assert "1 embeddings for 2 inputs" in str(error)


@pytest.mark.parametrize(
    ("embedding", "problem"),
    [
        ("not base64!", "an unreadable embedding"),
        (base64.b64encode(b"\0" * 6).decode(), "an unreadable embedding"),  # not whole floats
        (base64.b64encode(b"\0" * 8).decode(), "vectors of [2] dimensions, not 1536"),
    ],
)
def test_openai_malformed_embeddings_are_an_error_naming_the_problem(
    openai_router: respx.Router, embedding: str, problem: str
) -> None:
    openai_router.post("/embeddings").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": embedding}],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            },
        )
    )

    error = embed_error(make_openai(openai_router), ["one"])

    assert problem in str(error) and not error.retriable


def test_openai_unknown_model_needs_a_dimension(openai_router: respx.Router) -> None:
    with pytest.raises(ValueError, match="nomic-embed-text"):
        make_openai(openai_router, model="nomic-embed-text")

    route = openai_router.post("/embeddings").mock(
        side_effect=lambda request: embeddings_answer(request, dimension=768)
    )
    embedder = make_openai(openai_router, model="nomic-embed-text", dimension=768)
    (vector,) = asyncio.run(embedder.embed(["hello"]))

    assert len(vector) == embedder.dimension == 768
    assert "dimensions" not in sent_bodies(route)[0]


def test_openai_shortened_dimension_is_asked_of_the_server(openai_router: respx.Router) -> None:
    route = openai_router.post("/embeddings").mock(side_effect=embeddings_answer)
    embedder = make_openai(openai_router, model="text-embedding-3-large", dimension=256)

    (vector,) = asyncio.run(embedder.embed(["hello"]))

    assert sent_bodies(route)[0]["dimensions"] == 256
    assert len(vector) == 256
    with pytest.raises(ValueError, match="1536"):
        make_openai(openai_router, model="text-embedding-ada-002", dimension=256)


def test_openai_empty_input_sends_nothing(openai_router: respx.Router) -> None:
    route = openai_router.post("/embeddings").mock(side_effect=embeddings_answer)

    assert asyncio.run(make_openai(openai_router).embed([])) == []
    assert not route.called


# --- choosing an embedder, guarding a store --------------------------------------------------


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_create_embedder_defaults_to_the_local_model() -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            embedder = create_embedder(settings(DOCS_INGEST_EMBEDDER="local"), http)
            assert isinstance(embedder, SharedEmbedder)
            assert isinstance(embedder.inner, LocalEmbedder)
            assert (embedder.model, embedder.dimension) == ("all-MiniLM-L6-v2", 384)
            # one batch of the files in flight at a time, on all cores
            assert (embedder.concurrency, embedder.max_inputs) == (1, 32)

    asyncio.run(scenario())


def test_create_embedder_paces_to_the_limits_and_requests_the_settings_give() -> None:
    configured = settings(
        DOCS_INGEST_EMBEDDER="openai",
        OPENAI_API_KEY="k",
        DOCS_INGEST_EMBEDDING_RPM="500",
        DOCS_INGEST_EMBEDDING_TPM="1000000",
        DOCS_INGEST_EMBEDDING_REQUESTS="8",
    )

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            embedder = create_embedder(configured, http)
            assert isinstance(embedder, SharedEmbedder) and embedder.pacing is not None
            pacing = embedder.pacing
            assert (pacing.requests_per_minute, pacing.tokens_per_minute) == (500, 1_000_000)
            assert pacing.concurrency == embedder.concurrency == 8

    asyncio.run(scenario())


def test_create_embedder_openai_honours_the_base_url() -> None:
    compatible = "http://compatible.test/v1"
    # A compatible server that ignores `encoding_format` and answers plain floats.
    router = respx.Router(base_url=compatible)
    route = router.post("/embeddings").mock(
        side_effect=lambda request: embeddings_answer(
            httpx.Request(
                "POST",
                request.url,
                json={**json.loads(request.content), "encoding_format": "float"},
            )
        )
    )
    configured = settings(
        DOCS_INGEST_EMBEDDER="openai", OPENAI_API_KEY="k", OPENAI_BASE_URL=compatible
    )

    async def scenario() -> list[list[float]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
            embedder = create_embedder(configured, http)
            assert isinstance(embedder, SharedEmbedder)
            assert isinstance(embedder.inner, OpenAIEmbedder)
            assert embedder.model == "text-embedding-3-small"
            assert (embedder.concurrency, embedder.max_inputs) == (4, 2048)
            assert embedder.max_tokens == 300_000
            return await embedder.embed(["hello"])

    (vector,) = asyncio.run(scenario())

    assert route.calls.last.request.url == f"{compatible}/embeddings"
    assert np.allclose(vector, unit(fake_vector("hello")), atol=1e-6)


def test_create_embedder_openai_without_a_key_is_refused() -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            create_embedder(settings(DOCS_INGEST_EMBEDDER="openai", OPENAI_API_KEY=""), http)

    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        asyncio.run(scenario())


def test_check_store_model_accepts_the_same_model_and_dimension() -> None:
    check_store_model("all-MiniLM-L6-v2", 384, LocalEmbedder())


@pytest.mark.parametrize(
    ("store_model", "store_dimension"),
    [("text-embedding-3-small", 1536), ("all-MiniLM-L6-v2", 768)],
)
def test_check_store_model_refuses_another_model_or_dimension(
    store_model: str, store_dimension: int
) -> None:
    with pytest.raises(EmbedderMismatch) as caught:
        check_store_model(store_model, store_dimension, LocalEmbedder())

    message = str(caught.value)
    assert store_model in message and str(store_dimension) in message
    assert "all-MiniLM-L6-v2 (384 dimensions)" in message
    assert not caught.value.retriable
