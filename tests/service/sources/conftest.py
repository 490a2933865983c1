"""The sample repository, and one `Source` per implementation over it for the contract tests."""

from collections.abc import AsyncIterator

import pytest

from service.sources import Source
from service.sources.local_git import LocalGitSource
from tests.service.sources.fake_github import FakeGitHub, github_source
from tests.service.sources.git_repo import SampleRepo, build_sample_repo


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sample_repo(tmp_path_factory: pytest.TempPathFactory) -> SampleRepo:
    # Read-only once built, so one repository serves every test.
    return build_sample_repo(tmp_path_factory.mktemp("sources") / "sample")


@pytest.fixture(params=["local", "github"])
async def source(request: pytest.FixtureRequest, sample_repo: SampleRepo) -> AsyncIterator[Source]:
    if request.param == "local":
        yield LocalGitSource(sample_repo.path)
        return
    async with FakeGitHub(sample_repo.path).client() as http:
        yield github_source(http)


@pytest.fixture
def local(sample_repo: SampleRepo) -> LocalGitSource:
    """The reference a GitHub-only test compares against (itself held by the contract tests)."""
    return LocalGitSource(sample_repo.path)
