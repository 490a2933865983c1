"""`docs-ingest --help` lists every command in the order a newcomer uses them, and each
command's own --help says what it does, what it talks to, and its options."""

from pathlib import Path

import pytest

from cli.main import COMMANDS
from tests.cli.cli_runner import run, run_process

COMMAND_HELP = {
    ("serve",): ["embedded engine"],
    ("repo", "add"): ["PATH | OWNER/NAME", "webhook", "DOCS_INGEST_URL", "--installation-id"],
    ("repo", "list"): ["connected repositories", "--json"],
    ("push",): ["[PATH]", "last ingestion", "DOCS_INGEST_URL", "--no-wait", "--json"],
    ("sync",): ["REPO", "Re-index", "DOCS_INGEST_URL", "--no-wait"],
    ("search",): ["TEXT", "DOCS_INGEST_TOKEN", "--limit", "--repo", "--json"],
    ("token", "create"): ["once", "SHA-256", "DOCS_INGEST_TOKEN", "--org", "--name"],
    ("engine",): ["inngest dev"],
}


def test_the_top_level_help_lists_every_command_in_order() -> None:
    result = run(["--help"], {})

    assert result.exit_code == 0
    listed = result.output.split("Commands:")[1].split()
    assert [word for word in listed if word in COMMANDS] == list(COMMANDS)
    assert "docs-ingest repo add PATH" in result.output


@pytest.mark.parametrize("command", list(COMMAND_HELP), ids=" ".join)
def test_each_command_explains_itself(command: tuple[str, ...]) -> None:
    result = run([*command, "--help"], {})

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: docs-ingest {' '.join(command)} ")
    description = result.output.split("\n\n", 1)[1].split("Options:")[0]
    assert len(description.split()) >= 20, description  # more than a one-line title
    missing = [words for words in COMMAND_HELP[command] if words not in result.output]
    assert missing == []


def test_no_help_cuts_a_command_at_its_hyphen(tmp_path: Path) -> None:
    """As a terminal of 80 columns shows it: `docs-` and `ingest ...` on two lines cannot be
    copied."""
    cut = [
        command
        for command in COMMAND_HELP
        if "docs-\n" in run_process([*command, "--help"], {"COLUMNS": "80"}, cwd=tmp_path).stdout
    ]

    assert cut == []
