from collections.abc import Iterator

import pytest
import respx

OPENAI_BASE = "https://openai.test/v1"


@pytest.fixture
def openai_router() -> Iterator[respx.Router]:
    """A faked OpenAI-compatible embeddings endpoint at OPENAI_BASE."""
    router = respx.Router(base_url=OPENAI_BASE, assert_all_called=False)
    yield router
