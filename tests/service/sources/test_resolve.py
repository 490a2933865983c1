"""resolve: branch, tag and short sha all name the same full commit sha on both sources."""

import pytest

from service.sources import Source, SourceNotFound
from tests.service.sources.git_repo import SampleRepo

pytestmark = pytest.mark.anyio


async def test_a_branch_resolves_to_its_tip(source: Source, sample_repo: SampleRepo) -> None:
    assert await source.resolve("main") == sample_repo.second
    assert await source.resolve("side") == sample_repo.side


async def test_an_annotated_tag_resolves_to_its_commit(
    source: Source, sample_repo: SampleRepo
) -> None:
    assert await source.resolve("v1") == sample_repo.first


async def test_a_short_or_full_sha_resolves_to_the_full_sha(
    source: Source, sample_repo: SampleRepo
) -> None:
    assert await source.resolve(sample_repo.first[:10]) == sample_repo.first
    assert await source.resolve(sample_repo.second) == sample_repo.second


@pytest.mark.parametrize("ref", ["no-such-branch", "d" * 40, "--all"])
async def test_an_unknown_ref_is_not_found(source: Source, ref: str) -> None:
    with pytest.raises(SourceNotFound):
        await source.resolve(ref)
