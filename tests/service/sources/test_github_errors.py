"""GitHub's refusals and failures become the source error tree, with a usable retry_after."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from service.sources import (
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceRateLimited,
    SourceUnavailable,
)
from service.sources.github import GitHubSource, StaticToken
from tests.in_flight import InFlight
from tests.service.sources.fake_github import API_URL, REPOSITORY, TOKEN

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0
COMMIT_URL = f"{API_URL}/repos/{REPOSITORY}/commits/main"


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
async def source(router: respx.Router) -> AsyncIterator[GitHubSource]:
    transport = httpx.MockTransport(router.async_handler)
    async with httpx.AsyncClient(transport=transport) as http:
        yield GitHubSource(http, REPOSITORY, StaticToken(TOKEN), api_url=API_URL, clock=lambda: NOW)


async def resolve_error(source: GitHubSource) -> SourceError:
    with pytest.raises(SourceError) as caught:
        await source.resolve("main")
    assert TOKEN not in str(caught.value)
    return caught.value


@pytest.mark.parametrize("status", [403, 429])
async def test_exhausted_quota_waits_until_the_reset_time(
    router: respx.Router, source: GitHubSource, status: int
) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 754)}
    router.get(COMMIT_URL).respond(
        status, json={"message": "API rate limit exceeded"}, headers=headers
    )
    error = await resolve_error(source)
    assert isinstance(error, SourceRateLimited)
    assert error.retry_after == 754
    assert error.retriable


async def test_a_reset_time_already_past_waits_one_second(
    router: respx.Router, source: GitHubSource
) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 5)}
    router.get(COMMIT_URL).respond(
        403, json={"message": "API rate limit exceeded"}, headers=headers
    )
    error = await resolve_error(source)
    assert isinstance(error, SourceRateLimited)
    assert error.retry_after == 1


@pytest.mark.parametrize("status", [403, 429])
async def test_a_secondary_limit_waits_as_long_as_retry_after_says(
    router: respx.Router, source: GitHubSource, status: int
) -> None:
    headers = {"retry-after": "42", "x-ratelimit-remaining": "4000"}
    body = {"message": "You have exceeded a secondary rate limit."}
    router.get(COMMIT_URL).respond(status, json=body, headers=headers)
    error = await resolve_error(source)
    assert isinstance(error, SourceRateLimited)
    assert error.retry_after == 42


async def test_a_secondary_limit_without_headers_waits_a_minute(
    router: respx.Router, source: GitHubSource
) -> None:
    body = {"message": "You have exceeded a secondary rate limit."}
    router.get(COMMIT_URL).respond(403, json=body)
    error = await resolve_error(source)
    assert isinstance(error, SourceRateLimited)
    assert error.retry_after == 60


async def test_bad_credentials_are_an_auth_error(
    router: respx.Router, source: GitHubSource
) -> None:
    router.get(COMMIT_URL).respond(401, json={"message": "Bad credentials"})
    error = await resolve_error(source)
    assert isinstance(error, SourceAuthError)
    assert not error.retriable
    assert "Bad credentials" in str(error)


async def test_a_forbidden_repository_is_an_auth_error(
    router: respx.Router, source: GitHubSource
) -> None:
    body = {"message": "Resource not accessible by integration"}
    router.get(COMMIT_URL).respond(403, json=body, headers={"x-ratelimit-remaining": "4999"})
    assert isinstance(await resolve_error(source), SourceAuthError)


async def test_a_missing_repository_is_not_found(
    router: respx.Router, source: GitHubSource
) -> None:
    router.get(COMMIT_URL).respond(404, json={"message": "Not Found"})
    assert isinstance(await resolve_error(source), SourceNotFound)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retriable(
    router: respx.Router, source: GitHubSource, status: int
) -> None:
    router.get(COMMIT_URL).respond(status, text="<html>unicorn</html>")
    error = await resolve_error(source)
    assert isinstance(error, SourceUnavailable)
    assert error.retriable


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")]
)
async def test_network_failures_are_retriable(
    router: respx.Router, source: GitHubSource, failure: httpx.TransportError
) -> None:
    router.get(COMMIT_URL).mock(side_effect=failure)
    error = await resolve_error(source)
    assert isinstance(error, SourceUnavailable)
    assert error.retriable


async def test_an_unexpected_body_is_a_source_error(
    router: respx.Router, source: GitHubSource
) -> None:
    router.get(f"{API_URL}/repos/{REPOSITORY}/git/blobs/abcd").respond(200, json={"sha": "abcd"})
    with pytest.raises(SourceError) as caught:
        await source.read_blob("abcd")
    assert type(caught.value) is SourceError


async def test_every_request_carries_the_token_and_api_headers(
    router: respx.Router, source: GitHubSource
) -> None:
    route = router.get(COMMIT_URL).respond(200, text="a" * 40)
    assert await source.resolve("main") == "a" * 40
    headers = route.calls.last.request.headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["x-github-api-version"] == "2022-11-28"


async def test_requests_beyond_the_bound_wait_for_a_free_one() -> None:
    answer = InFlight(lambda _: httpx.Response(200, json={"content": "aGk=", "encoding": "base64"}))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        shared = asyncio.Semaphore(3)
        sources = [
            GitHubSource(http, REPOSITORY, StaticToken(TOKEN), api_url=API_URL, requests=shared)
            for _ in range(2)
        ]
        blobs = await asyncio.gather(*(sources[n % 2].read_blob(f"{n:040x}") for n in range(20)))
    assert blobs == [b"hi"] * 20
    assert answer.most == 3  # the two sources' requests together, never more
