"""The markdown chunker: what a reader of search results would notice about the chunks."""

import itertools
import random
import re
from pathlib import Path

import pytest
from tokenizers import BertWordPieceTokenizer

import service
from service.chunking import Chunk, chunk_markdown

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def count_words(text: str) -> int:
    return len(text.split())


def fences_balanced(text: str) -> bool:
    """Whether every code fence opened in `text` is closed again (CommonMark fence rules)."""
    marker = ""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match is None:
            continue
        if not marker:
            marker = match[1]
        elif match[1][0] == marker[0] and len(match[1]) >= len(marker) and not match[2].strip():
            marker = ""
    return not marker


def shared_words(before: str, after: str) -> int:
    """How many leading words of `after` repeat the last words of `before`."""
    first, second = before.split(), after.split()
    longest = min(len(first), len(second))
    return max((k for k in range(1, longest + 1) if first[-k:] == second[:k]), default=0)


def words_without_overlap(chunks: list[Chunk]) -> list[str]:
    """All chunk words in order, each chunk's leading repeat of the previous one removed."""
    result = chunks[0].text.split() if chunks else []
    for before, after in itertools.pairwise(chunks):
        result += after.text.split()[shared_words(before.text, after.text) :]
    return result


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(word in remaining for word in needle)


def numbered_sentences(start: int, count: int, words_per_sentence: int = 5) -> str:
    """Sentences of unique words (w<start>, w<start+1>, …), so every word can be traced."""
    words = [f"w{start + i}" for i in range(count * words_per_sentence)]
    sentences = [
        " ".join(words[i : i + words_per_sentence]) + "."
        for i in range(0, len(words), words_per_sentence)
    ]
    return " ".join(sentences)


def test_each_chunk_carries_the_headings_above_it() -> None:
    doc = (
        "Preamble before any heading.\n\n"
        "# Guide\n\nIntro.\n\n"
        "## Install ##\n\nPick one.\n\n"
        "### From source\n\nRun make.\n\n"
        "## Usage\n\nCall it.\n\n"
        "Reference\n=========\n\nAll options.\n\n"
        "Flags\n-----\n\nThe flags.\n\n"
        "## API\n### Endpoints\n\nGET /search.\n"
    )
    chunks = chunk_markdown(doc, count_tokens=count_words).chunks

    assert [c.heading_path for c in chunks] == [
        (),
        ("Guide",),
        ("Guide", "Install"),
        ("Guide", "Install", "From source"),
        ("Guide", "Usage"),
        ("Reference",),
        ("Reference", "Flags"),
        ("Reference", "API", "Endpoints"),
    ]
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[3].text == "### From source\n\nRun make."
    # A heading with nothing under it but a deeper heading is not left as a chunk of its own.
    assert chunks[7].text == "## API\n\n### Endpoints\n\nGET /search."


def test_a_hash_comment_in_a_code_fence_does_not_start_a_section() -> None:
    doc = (
        "## Setup\n\nInstall it:\n\n"
        "```bash\n# install the dependencies\npip install docs-ingest\n\n"
        "# then run\nmake run\n```\n\n"
        "~~~~markdown\n# Not a heading\n~~~\n## Still not one\n~~~~\n\n"
        "Done.\n"
    )
    chunks = chunk_markdown(doc, count_tokens=count_words).chunks

    assert [c.heading_path for c in chunks] == [("Setup",)]
    assert "# install the dependencies\npip install docs-ingest\n\n# then run" in chunks[0].text
    assert "## Still not one" in chunks[0].text


def test_a_code_fence_is_never_split_while_it_fits_in_a_chunk() -> None:
    fence = "```python\n" + "\n".join(f"value_{i} = {i}" for i in range(8)) + "\n```"
    doc = f"# Code\n\n{numbered_sentences(0, 4)}\n\n{fence}\n\n{numbered_sentences(100, 4)}\n"
    chunks = chunk_markdown(doc, count_tokens=count_words, max_tokens=30, overlap_tokens=5).chunks

    assert len(chunks) > 1
    assert sum(fence in c.text for c in chunks) == 1
    assert all(fences_balanced(c.text) for c in chunks)


def test_a_fence_longer_than_a_chunk_is_split_into_closed_fences() -> None:
    lines = [f"step_{i}()" for i in range(60)]
    doc = "## Script\n\n```python\n" + "\n".join(lines) + "\n```\n"
    chunks = chunk_markdown(doc, count_tokens=count_words, max_tokens=20, overlap_tokens=4).chunks
    code = [c for c in chunks if "step_" in c.text]

    assert len(code) >= 3
    for chunk in code:
        assert chunk.text.startswith("```python\n")
        assert chunk.text.endswith("\n```")
        assert chunk.token_count <= 20
    inside = [ln for c in code for ln in c.text.split("\n") if ln.startswith("step_")]
    assert inside == lines


def test_front_matter_is_dropped_and_its_title_kept() -> None:
    doc = '---\ntitle: "Getting started"\ntags: [intro, setup]\n---\n# Welcome\n\nHello.\n'
    document = chunk_markdown(doc, count_tokens=count_words)

    assert document.title == "Getting started"
    assert [c.text for c in document.chunks] == ["# Welcome\n\nHello."]


def test_the_title_falls_back_to_the_first_h1_then_to_none() -> None:
    assert chunk_markdown("Intro\n\n## Sub\n\n# Main\n", count_tokens=count_words).title == "Main"
    assert (
        chunk_markdown("---\nauthor: me\n---\n# Main\n", count_tokens=count_words).title == "Main"
    )
    assert chunk_markdown("Only text.\n", count_tokens=count_words).title is None


@pytest.mark.parametrize(
    "front_matter",
    [
        "---\ntitle: [unclosed\n---\n",  # invalid YAML
        "---\ndate: 2024-02-30\n---\n",  # valid YAML, impossible date
        "---\ntitle: never closed\n\n",  # no closing line
    ],
)
def test_malformed_front_matter_is_kept_as_text(front_matter: str) -> None:
    document = chunk_markdown(front_matter + "Body text.\n", count_tokens=count_words)

    assert document.title is None
    text = "\n".join(c.text for c in document.chunks)
    assert front_matter.split("\n")[1] in text
    assert "Body text." in text


def test_a_long_section_is_split_within_the_budget_with_overlap() -> None:
    paragraphs = "\n\n".join(numbered_sentences(i * 100, 3, 6) for i in range(8))
    one_line = numbered_sentences(1000, 30)
    doc = f"# Long\n\n{paragraphs}\n\n# Next\n\n{one_line}\n"
    chunks = chunk_markdown(doc, count_tokens=count_words, max_tokens=40, overlap_tokens=10).chunks

    assert [c.heading_path for c in chunks].count(("Long",)) >= 4
    assert [c.heading_path for c in chunks].count(("Next",)) >= 4
    assert all(c.token_count <= 40 and c.token_count == count_words(c.text) for c in chunks)
    for before, after in itertools.pairwise(chunks):
        shared = shared_words(before.text, after.text)
        if before.heading_path == after.heading_path:
            # the next piece opens with whole trailing sentences of the one before
            overlap = " ".join(after.text.split()[:shared])
            assert 1 <= shared <= 10
            assert overlap.endswith(".")
            assert before.text.endswith(overlap)
            assert re.search(r"\.\s+$", before.text[: -len(overlap)])
        else:
            assert after.text.startswith("# Next")
            assert shared == 0


def test_no_word_is_lost() -> None:
    doc = (
        f"{numbered_sentences(0, 3)}\n\n# A\n\n{numbered_sentences(100, 12)}\n\n"
        f"{numbered_sentences(200, 2)}\n\n## B\n\n```sh\nw300 w301\nw302\n```\n\n"
        f"{' '.join(f'w{i}' for i in range(400, 520))}\n\n# C\n\nw600 w601.\n"
    )
    chunks = chunk_markdown(doc, count_tokens=count_words, max_tokens=25, overlap_tokens=6).chunks

    assert words_without_overlap(chunks) == doc.split()


def test_an_enormous_line_is_split_on_words() -> None:
    line = " ".join(f"token{i}" for i in range(500))
    chunks = chunk_markdown(line, count_tokens=count_words, max_tokens=50, overlap_tokens=5).chunks

    assert len(chunks) >= 10
    assert all(c.token_count <= 50 for c in chunks)
    assert words_without_overlap(chunks) == line.split()


def test_a_single_word_longer_than_the_budget_is_kept_whole() -> None:
    word = "x" * 25
    doc = f"short one\n\n{word}\n\ntail"
    chunks = chunk_markdown(doc, count_tokens=len, max_tokens=10, overlap_tokens=2).chunks

    assert word in [c.text for c in chunks]
    assert all(c.token_count <= 10 for c in chunks if c.text != word)


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t\n", "---\ntitle: Empty\n---\n\n"])
def test_a_document_without_content_has_no_chunks(text: str) -> None:
    assert chunk_markdown(text, count_tokens=count_words).chunks == []


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens", "named"),
    [
        (0, 0, "max_tokens"),
        (-5, 0, "max_tokens"),
        (10, -1, "overlap_tokens"),
        (10, 10, "overlap_tokens"),
    ],
)
def test_invalid_sizes_are_refused(max_tokens: int, overlap_tokens: int, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        chunk_markdown(
            "text", count_tokens=count_words, max_tokens=max_tokens, overlap_tokens=overlap_tokens
        )


def _generated_document(rng: random.Random) -> str:
    parts: list[str] = []
    if rng.random() < 0.3:
        parts.append("---\ntitle: Generated\n---")
    serial = 0
    for _ in range(rng.randint(1, 12)):
        kind = rng.choice(["heading", "paragraph", "paragraph", "fence", "long line"])
        if kind == "heading":
            parts.append("#" * rng.randint(1, 6) + f" Heading {serial}")
        elif kind == "paragraph":
            parts.append(numbered_sentences(serial, rng.randint(1, 8), rng.randint(1, 9)))
        elif kind == "fence":
            body = [f"# comment {serial + i}" if i % 3 == 0 else f"run {i}" for i in range(40)]
            body[rng.randrange(len(body))] = ""
            marker = rng.choice(["```", "````", "~~~"])
            lang = rng.choice(["", "bash", "python"])
            parts.append(
                f"{marker}{lang}\n" + "\n".join(body[: rng.randint(1, 40)]) + f"\n{marker}"
            )
        else:
            parts.append(" ".join(f"long{serial + i}" for i in range(rng.randint(30, 120))))
        serial += 1000
    return "\n\n".join(parts) + "\n"


def test_generated_documents_respect_the_budget_and_keep_fences_closed() -> None:
    for seed in range(40):
        doc = _generated_document(random.Random(seed))
        body = doc.split("---\n", 2)[-1] if doc.startswith("---\n") else doc
        for max_tokens, overlap_tokens in [(12, 0), (12, 5), (30, 8), (200, 50)]:
            document = chunk_markdown(
                doc, count_tokens=count_words, max_tokens=max_tokens, overlap_tokens=overlap_tokens
            )
            again = chunk_markdown(
                doc, count_tokens=count_words, max_tokens=max_tokens, overlap_tokens=overlap_tokens
            )
            assert document == again, seed
            for chunk in document.chunks:
                assert chunk.text.strip(), seed
                assert chunk.token_count == count_words(chunk.text) <= max_tokens, (seed, chunk)
                assert fences_balanced(chunk.text), (seed, chunk)
            all_words = [w for c in document.chunks for w in c.text.split()]
            assert is_subsequence(body.split(), all_words), seed


def test_chunks_fit_the_local_model_tokenizer() -> None:
    vocab = Path(service.__file__).parent / "minilm" / "vocab.txt"
    tokenizer = BertWordPieceTokenizer(str(vocab), lowercase=True)

    def count_wordpieces(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    doc = (
        "---\ntitle: Operating docs-ingest\n---\n"
        "# Operations\n\nThis guide explains how to run the service in production.\n\n"
        "## Configuration\n\n"
        + " ".join(
            f"Setting number {i} controls the behaviour of subsystem {i}, which defaults to off."
            for i in range(25)
        )
        + "\n\n```yaml\n# lightfast.yml\ninclude:\n  - docs/**/*.md\nchunk_size: 400\n```\n\n"
        "## Troubleshooting\n\nIf ingestion stalls, check the engine logs.\n"
    )
    document = chunk_markdown(doc, count_tokens=count_wordpieces, max_tokens=64, overlap_tokens=16)

    assert document.title == "Operating docs-ingest"
    paths = [c.heading_path for c in document.chunks]
    assert paths.count(("Operations", "Configuration")) >= 3
    assert paths[-1] == ("Operations", "Troubleshooting")
    for chunk in document.chunks:
        assert chunk.token_count == count_wordpieces(chunk.text) <= 64
        assert fences_balanced(chunk.text)
    assert any("```yaml\n# lightfast.yml" in c.text for c in document.chunks)
    assert document == chunk_markdown(
        doc, count_tokens=count_wordpieces, max_tokens=64, overlap_tokens=16
    )
