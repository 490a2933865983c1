import pytest

from tests.engine.harness import SDK_VARIABLES


@pytest.fixture
def cloud_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """No INNGEST_* variable of the machine decides the SDK's mode or keys: the test does."""
    for name in SDK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
