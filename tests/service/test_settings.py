"""Settings never depend on the current directory: every command finds what `serve` uses."""

from pathlib import Path

import pytest

from service.settings import Settings


def test_the_data_folder_is_the_same_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCS_INGEST_DATA_DIR", raising=False)
    here = Settings().data_dir
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DOCS_INGEST_DATA_DIR=/elsewhere\n")

    assert Settings().data_dir == here
    assert here.is_absolute()
    assert Settings().sqlalchemy_url == f"sqlite:///{here / 'docs-ingest.db'}"


def test_an_empty_variable_is_an_unset_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose and .env files pass optional settings through as empty strings."""
    monkeypatch.setenv("DOCS_INGEST_EMBEDDING_RPM", "")
    monkeypatch.setenv("DOCS_INGEST_PORT", "")
    monkeypatch.setenv("DATABASE_URL", "")

    settings = Settings()

    assert settings.embedding_rpm is None
    assert settings.port == 8000
    assert settings.database_url is None


@pytest.mark.parametrize(
    ("embedder", "set_to", "files"), [("openai", "", 128), ("local", "", 64), ("openai", "8", 8)]
)
def test_files_at_once_follow_the_embedder_unless_set(
    monkeypatch: pytest.MonkeyPatch, embedder: str, set_to: str, files: int
) -> None:
    monkeypatch.setenv("DOCS_INGEST_EMBEDDER", embedder)
    monkeypatch.setenv("DOCS_INGEST_FILE_CONCURRENCY", set_to)

    assert Settings().files_at_once == files


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("0.0.0.0", "http://127.0.0.1:8123"),  # noqa: S104 - a setting under test
        ("::", "http://[::1]:8123"),
        ("::1", "http://[::1]:8123"),
        ("10.0.0.5", "http://10.0.0.5:8123"),
    ],
)
def test_the_engine_reaches_the_service_at_a_url_it_can_connect_to(
    host: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCS_INGEST_URL", raising=False)
    settings = Settings(DOCS_INGEST_HOST=host, DOCS_INGEST_PORT=8123)

    assert settings.app_url == settings.public_url == url
