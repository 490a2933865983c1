"""Pacing keeps requests and tokens within the account's per-minute limits, learns them from the
provider's headers, and backs off on 429s and server errors. A fake clock stands for time."""

import asyncio
import json

import httpx
import pytest
import respx

from service.embeddings import EmbeddingError
from service.pacing import MAX_BACKOFF_S, Pacing
from service.shared_embeddings import MAX_SENDS, SharedEmbedder
from tests.service.test_embeddings import embeddings_answer, make_openai


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_beyond_a_minutes_budget_wait_for_the_refill() -> None:
    clock = Clock()
    pacing = Pacing(None, 6000, 4, clock=clock)  # 100 tokens a second

    first = pacing.wait_tokens(5000)
    second = pacing.wait_tokens(2000)  # 1,000 left: 1,000 more take 10 s
    clock.now += 10
    third = pacing.wait_tokens(100)  # the refill went to the second reservation

    assert first == 0
    assert second == pytest.approx(10)
    assert third == pytest.approx(1)


def test_requests_per_minute_space_out_requests() -> None:
    clock = Clock()
    pacing = Pacing(60, None, 4, clock=clock)  # one a second

    waits = [pacing.wait_request() for _ in range(62)]
    pacing.unreserve_request()  # the last was not sent
    again = pacing.wait_request()

    assert waits[:60] == [0] * 60
    assert waits[60:] == [pytest.approx(1), pytest.approx(2)]
    assert again == pytest.approx(2)


def test_a_429_says_what_is_left_of_the_account() -> None:
    clock = Clock()
    pacing = Pacing(None, 60_000, 4, clock=clock)  # told a full minute, but the account is spent

    pacing.refused(1, 0, {"x-ratelimit-remaining-tokens": "0"})

    assert pacing.wait_tokens(1000) == pytest.approx(1)  # a 1,000-token request waits a second


def test_limits_unknown_to_the_settings_are_learnt_from_the_headers() -> None:
    clock = Clock()
    pacing = Pacing(None, None, 4, clock=clock)
    headers = {
        "x-ratelimit-limit-tokens": "60000",
        "x-ratelimit-remaining-tokens": "500",
        "x-ratelimit-limit-requests": "3000",
        "x-ratelimit-remaining-requests": "2999",
    }

    unknown = pacing.wait_tokens(10_000)
    pacing.answered(headers)
    learnt = pacing.wait_tokens(1500)  # 500 left at 1,000 a second

    assert unknown == 0
    assert learnt == pytest.approx(1)


def test_requests_ramp_up_and_a_429_halves_them_and_pauses_for_the_wait_asked() -> None:
    clock = Clock()
    pacing = Pacing(None, None, 8, clock=clock)
    first = pacing.allowed
    for _ in range(10):
        pacing.answered({})
    ramped = pacing.allowed

    pause = pacing.refused(retry_after=3, attempt=0)
    halved = pacing.allowed
    waiting = pacing.wait_request()
    pacing.refused(retry_after=None, attempt=10)
    long_pause = pacing.pause_left()
    for _ in range(10):
        pacing.answered({})

    assert (first, ramped) == (1, 8)  # one request first, then one more per answer
    assert (pause, halved, waiting) == (3, 4, 3)
    assert pacing.allowed == 8  # each answer gave a slot back, up to the configured number
    assert long_pause == MAX_BACKOFF_S  # a backoff doubles, within a bound


def shared(router: respx.Router, handler: object, pacing: Pacing) -> SharedEmbedder:
    router.post("/embeddings").mock(side_effect=handler)
    return SharedEmbedder(
        make_openai(router), max_inputs=2048, max_tokens=300_000, concurrency=4, pacing=pacing
    )


def rate_limited(retry_after: str = "0.01") -> httpx.Response:
    return httpx.Response(
        429,
        headers={"retry-after": retry_after},
        json={"error": {"message": "Rate limit reached for requests", "type": "requests"}},
    )


def test_files_whose_request_got_429s_are_sent_again_after_the_wait(
    openai_router: respx.Router,
) -> None:
    answers: list[int] = []

    def server(request: httpx.Request) -> httpx.Response:
        answers.append(429 if len(answers) < 2 else 200)
        return rate_limited() if answers[-1] == 429 else embeddings_answer(request)

    embedder = shared(openai_router, server, Pacing(None, None, 4))

    vectors = asyncio.run(embedder.embed(["one", "two", "three"]))

    assert len(vectors) == 3
    assert answers == [429, 429, 200]


def test_a_storm_of_429s_ends_in_a_retriable_error_without_spinning(
    openai_router: respx.Router,
) -> None:
    sent: list[list[str]] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["input"])
        return rate_limited()

    embedder = shared(openai_router, server, Pacing(None, None, 4))

    with pytest.raises(EmbeddingError) as caught:
        asyncio.run(embedder.embed(["one", "two"]))

    assert caught.value.retriable and "Rate limit reached" in str(caught.value)
    assert len(sent) == MAX_SENDS  # sent again a bounded number of times, each after a pause
