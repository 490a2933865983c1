"""A GitHub App installation token is minted with a signed JWT once and reused until near expiry."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from service.sources import SourceAuthError, SourceNotFound
from service.sources.github import AppInstallationAuth, GitHubSource
from tests.service.sources.fake_github import API_URL, REPOSITORY, FakeGitHub
from tests.service.sources.git_repo import SECOND_FILES, SampleRepo

pytestmark = pytest.mark.anyio

APP_ID = "424242"
INSTALLATION_ID = 7
TOKEN_LIFETIME = 3600
TOKENS_URL = f"{API_URL}/app/installations/{INSTALLATION_ID}/access_tokens"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class TokenEndpoint:
    """GitHub's access_tokens endpoint: checks the JWT, then lets the fake accept the new token."""

    def __init__(self, fake: FakeGitHub, key: rsa.RSAPrivateKey, clock: FakeClock) -> None:
        self.fake, self.public_key, self.clock = fake, key.public_key(), clock
        self.minted: list[str] = []
        self.route = fake.router.post(TOKENS_URL).mock(side_effect=self.mint)

    async def mint(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # a real round trip lets other requests run meanwhile
        scheme, _, assertion = request.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
        # The fake clock is years behind the real one: check the times by hand.
        claims: dict[str, Any] = jwt.decode(
            assertion,
            self.public_key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False},
        )
        now = int(self.clock())
        assert claims == {"iss": APP_ID, "iat": now - 60, "exp": now + 9 * 60}
        token = f"ghs_installation-token-{len(self.minted) + 1}"
        self.minted.append(token)
        self.fake.tokens = {token}  # an older token stops working
        expires = datetime.fromtimestamp(self.clock() + TOKEN_LIFETIME, UTC)
        body = {"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return httpx.Response(201, json=body)


def app_source(http: httpx.AsyncClient, private_key: str, clock: FakeClock) -> GitHubSource:
    auth = AppInstallationAuth(
        http,
        app_id=APP_ID,
        private_key=private_key,
        installation_id=INSTALLATION_ID,
        api_url=API_URL,
        clock=clock,
    )
    return GitHubSource(http, REPOSITORY, auth, api_url=API_URL, clock=clock)


async def test_one_token_serves_every_request_until_near_expiry(
    sample_repo: SampleRepo, app_key: rsa.RSAPrivateKey
) -> None:
    fake, clock = FakeGitHub(sample_repo.path, tokens=()), FakeClock()
    endpoint = TokenEndpoint(fake, app_key, clock)
    async with fake.client() as http:
        source = app_source(http, pem(app_key), clock)
        assert await source.resolve("main") == sample_repo.second
        assert len(await source.tree("main")) == len(SECOND_FILES)
        assert await source.read_file("main", "README.md") == SECOND_FILES["README.md"]
        assert endpoint.route.call_count == 1

        clock.now += TOKEN_LIFETIME - 5 * 60 - 1
        await source.resolve("main")
        assert endpoint.route.call_count == 1

        clock.now += 2  # now within five minutes of expiry
        assert await source.resolve("v1") == sample_repo.first
        assert endpoint.route.call_count == 2
        assert endpoint.minted == ["ghs_installation-token-1", "ghs_installation-token-2"]


async def test_concurrent_requests_share_one_mint(
    sample_repo: SampleRepo, app_key: rsa.RSAPrivateKey
) -> None:
    fake, clock = FakeGitHub(sample_repo.path, tokens=()), FakeClock()
    endpoint = TokenEndpoint(fake, app_key, clock)
    async with fake.client() as http:
        source = app_source(http, pem(app_key), clock)
        shas = await asyncio.gather(*(source.resolve("main") for _ in range(5)))
    assert shas == [sample_repo.second] * 5
    assert endpoint.route.call_count == 1


async def test_a_key_pasted_with_escaped_newlines_still_signs(
    sample_repo: SampleRepo, app_key: rsa.RSAPrivateKey
) -> None:
    fake, clock = FakeGitHub(sample_repo.path, tokens=()), FakeClock()
    TokenEndpoint(fake, app_key, clock)
    one_line = pem(app_key).replace("\n", "\\n")
    async with fake.client() as http:
        assert await app_source(http, one_line, clock).resolve("main") == sample_repo.second


async def test_a_rejected_jwt_is_an_auth_error(
    sample_repo: SampleRepo, app_key: rsa.RSAPrivateKey
) -> None:
    fake = FakeGitHub(sample_repo.path, tokens=())
    body = {"message": "A JSON web token could not be decoded"}
    fake.router.post(TOKENS_URL).respond(401, json=body)
    async with fake.client() as http:
        with pytest.raises(SourceAuthError, match="JSON web token"):
            await app_source(http, pem(app_key), FakeClock()).resolve("main")


async def test_an_unknown_installation_is_not_found(
    sample_repo: SampleRepo, app_key: rsa.RSAPrivateKey
) -> None:
    fake = FakeGitHub(sample_repo.path, tokens=())
    fake.router.post(TOKENS_URL).respond(404, json={"message": "Not Found"})
    async with fake.client() as http:
        with pytest.raises(SourceNotFound, match=f"installation {INSTALLATION_ID}"):
            await app_source(http, pem(app_key), FakeClock()).resolve("main")


async def test_a_key_that_is_not_rsa_is_an_auth_error(sample_repo: SampleRepo) -> None:
    async with FakeGitHub(sample_repo.path).client() as http:
        with pytest.raises(SourceAuthError, match="private key"):
            await app_source(http, "not a key", FakeClock()).resolve("main")
