"""The markdown chunker: what a reader of search results would notice about the chunks."""

import base64
import itertools
import random
import re
from functools import cache
from pathlib import Path

import pytest
from tokenizers import BertWordPieceTokenizer

import service
from service.chunking import Chunk, TokenCounter, chunk_markdown

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
#: The local model's tokens per input (all-MiniLM-L6-v2 without [CLS] and [SEP]).
MODEL_BUDGET = 254


def count_words(text: str) -> int:
    return len(text.split())


@cache
def _wordpiece() -> BertWordPieceTokenizer:
    return BertWordPieceTokenizer(
        str(Path(service.__file__).parent / "minilm" / "vocab.txt"), lowercase=True
    )


def count_wordpieces(text: str) -> int:
    """Tokens as the local model counts them."""
    return len(_wordpiece().encode(text, add_special_tokens=False).ids)


def without_spaces(text: str) -> str:
    return "".join(text.split())


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


def test_a_single_word_longer_than_the_budget_is_cut_into_pieces_that_fit() -> None:
    # It used to be kept whole, over the budget, and the embedder then refused the whole file.
    word = "x" * 25
    doc = f"short one\n\n{word}\n\ntail"
    chunks = chunk_markdown(doc, count_tokens=len, max_tokens=10, overlap_tokens=2).chunks

    assert [c.text for c in chunks] == ["short one", "x" * 10, "x" * 10, "x" * 5, "tail"]


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


def test_ordinary_prose_is_chunked_as_before() -> None:
    doc = (
        "# Guide\n\n"
        "Chunks are what search results show. Each one keeps the headings above it. "
        "A long paragraph is cut between sentences, and the next chunk repeats the last sentence "
        "or two, so a passage cut in two can still be found.\n\n"
        "A line with no sentence end at all is cut between words when it must be and that "
        "cut repeats a few words in the next chunk as well\n"
    )
    chunks = chunk_markdown(doc, count_tokens=count_words, max_tokens=20, overlap_tokens=6).chunks

    assert [c.text for c in chunks] == [
        "# Guide\n\nChunks are what search results show. Each one keeps the headings above it. "
        "A long paragraph is cut",
        "it. A long paragraph is cut between sentences, and the next chunk repeats the last "
        "sentence or two, so a",
        "last sentence or two, so a passage cut in two can still be found.\n\n"
        "A line with no sentence end",
        "A line with no sentence end at all is cut between words when it must be and that cut "
        "repeats",
        "must be and that cut repeats a few words in the next chunk as well",
    ]


@pytest.mark.parametrize("overlap_tokens", [0, 50])
def test_a_page_with_a_long_playground_link_fits_the_model(overlap_tokens: int) -> None:
    blob = base64.b64encode(random.Random(7).randbytes(1125)).decode()
    url = f"https://play.vuejs.org/#{blob}"
    assert len(url) > 1500 and count_wordpieces(url) > MODEL_BUDGET
    before, after = numbered_sentences(0, 6), numbered_sentences(100, 4)
    doc = f"## v-model\n\n{before} [Try it in the playground]({url}) to see it.\n\n{after}\n"
    chunks = chunk_markdown(
        doc, count_tokens=count_wordpieces, max_tokens=MODEL_BUDGET, overlap_tokens=overlap_tokens
    ).chunks

    assert all(c.token_count == count_wordpieces(c.text) <= MODEL_BUDGET for c in chunks)
    assert url in "".join(c.text for c in chunks)
    assert before in chunks[0].text and after in chunks[-1].text
    if not overlap_tokens:  # then the chunks, end to end, are the page again
        assert without_spaces("".join(c.text for c in chunks)) == without_spaces(doc)


def test_a_chinese_paragraph_is_split_at_its_sentence_ends() -> None:
    ends = "\u3002\uff01\uff1f"  # ideographic full stop, full-width ! and ?
    sentences = [
        f"第{i}句说明组件如何接收属性并在数据变化时触发事件通知父组件{ends[i % 3]}"
        for i in range(20)
    ]
    # A sentence in quotes ends after its closing quote, not before it.
    sentences[1::2] = [f"“{s}”" for s in sentences[1::2]]
    paragraph = "".join(sentences)
    assert len(paragraph) > 600 and count_wordpieces(paragraph) > MODEL_BUDGET
    chunks = chunk_markdown(
        f"# 组件\n\n{paragraph}\n", count_tokens=count_wordpieces, max_tokens=MODEL_BUDGET
    ).chunks

    assert len(chunks) >= 3
    assert all(c.token_count <= MODEL_BUDGET for c in chunks)
    runs = []
    for chunk in chunks:
        numbers = [int(n) for n in re.findall(r"第(\d+)句", chunk.text)]
        first, last = numbers[0], numbers[-1]
        assert numbers == list(range(first, last + 1))
        # whole sentences only, never a sentence cut in two
        assert chunk.text.removeprefix("# 组件\n\n") == "".join(sentences[first : last + 1])
        runs.append((first, last))
    assert runs[0][0] == 0 and runs[-1][1] == len(sentences) - 1
    for (_, last), (first, _) in itertools.pairwise(runs):
        assert first == last  # the next chunk opens with the last sentence of the one before


def test_the_next_chunk_repeats_whole_chinese_sentences_of_the_one_before() -> None:
    sentences = [
        f"第{i}句说明组件如何接收属性并在数据变化时触发事件通知父组件\u3002" for i in range(12)
    ]
    first, second = "".join(sentences[:6]), "".join(sentences[6:])
    chunks = chunk_markdown(
        f"{first}\n\n{second}\n", count_tokens=count_wordpieces, max_tokens=MODEL_BUDGET
    ).chunks

    assert [c.text for c in chunks] == [first, f"{sentences[5]}\n\n{second}"]


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(random.Random(1).randbytes(15_000)).decode(),
        "".join(f"a{i}=function(b){{return(b+{i})}};" for i in range(600)),
        "".join(chr(random.Random(2).randrange(0x4E00, 0x9FA5)) for _ in range(3000)),
    ],
    ids=["base64 blob", "minified code", "CJK without punctuation"],
)
def test_text_without_a_break_is_cut_where_the_budget_runs_out(text: str) -> None:
    chunks = chunk_markdown(text, count_tokens=count_wordpieces, max_tokens=64).chunks

    assert "".join(c.text for c in chunks) == text
    assert all(c.token_count == count_wordpieces(c.text) <= 64 for c in chunks)
    # each piece holds as much as fits, not a sliver
    assert all(c.token_count >= 48 for c in chunks[:-1])


@pytest.mark.parametrize("max_tokens", range(5, 12))
def test_a_cut_never_falls_inside_a_grapheme(max_tokens: int) -> None:
    graphemes = ["e\u0301", "\U0001f1eb\U0001f1f7", "\U0001f469\u200d\U0001f469\u200d\U0001f467"]
    graphemes = [*graphemes, "\U0001f44d\U0001f3fd", "\u0915\u094d\u0937", "x"] * 8
    text = "".join(graphemes)
    chunks = chunk_markdown(text, count_tokens=len, max_tokens=max_tokens, overlap_tokens=2).chunks

    assert "".join(c.text for c in chunks) == text
    assert all(c.token_count <= max_tokens for c in chunks)
    ends = set(itertools.accumulate(len(g) for g in graphemes))
    assert set(itertools.accumulate(len(c.text) for c in chunks)) <= ends


def test_a_long_line_in_a_code_fence_is_cut_into_closed_fences() -> None:
    data = base64.b64encode(random.Random(3).randbytes(600)).decode()
    doc = f'## Logo\n\n```js\nconst logo = "data:image/png;base64,{data}"\n```\n'
    chunks = chunk_markdown(doc, count_tokens=count_wordpieces, max_tokens=64).chunks

    code = [c.text for c in chunks if c.text.startswith("```js\n")]
    assert len(code) > 3
    assert all(c.endswith("\n```") and fences_balanced(c) for c in code)
    assert all(c.token_count <= 64 for c in chunks)
    assert data in "".join(c.removeprefix("```js\n").removesuffix("\n```") for c in code)


@pytest.mark.parametrize(
    ("line", "count"),
    [
        (" ".join(f"word{i}" for i in range(110_000)), count_words),
        (base64.b64encode(random.Random(4).randbytes(750_000)).decode(), len),
    ],
    ids=["words", "no spaces"],
)
def test_a_1_mb_line_is_counted_a_piece_at_a_time(line: str, count: TokenCounter) -> None:
    # Counting a whole 5 MB line took the local tokenizer seconds and ~750 MB, several times
    # over: the work and memory must follow the chunks, not the line.
    counted: list[int] = []

    def counting(text: str) -> int:
        counted.append(len(text))
        return count(text)

    chunks = chunk_markdown(line, count_tokens=counting, max_tokens=MODEL_BUDGET).chunks

    assert len(line) >= 1_000_000
    assert all(c.token_count <= MODEL_BUDGET for c in chunks)
    assert max(counted) <= 10_000
    assert sum(counted) <= 8 * len(line)


def test_hugo_toml_front_matter_is_dropped_keeping_its_title() -> None:
    doc = '+++\ntitle = "Deploying"\ndraft = false\n+++\n\nShip it on Fridays.\n'

    chunked = chunk_markdown(doc, count_tokens=count_words)

    assert chunked.title == "Deploying"
    assert [chunk.text for chunk in chunked.chunks] == ["Ship it on Fridays."]


def test_mdx_imports_are_dropped_and_heading_anchors_left_out_of_the_path() -> None:
    doc = (
        "import Tabs from '@theme/Tabs';\n"
        'import { Note, Tip } from "../components";\n'
        "import './styles.css'\n\n"
        "## Install {#install}\n\n"
        "import the package first, then run it.\n"
    )

    [chunk] = chunk_markdown(doc, count_tokens=count_words).chunks

    assert chunk.heading_path == ("Install",)
    assert chunk.text == "## Install {#install}\n\nimport the package first, then run it."


def test_a_table_longer_than_a_chunk_repeats_its_header_in_every_piece() -> None:
    header = "| Setting | Default | Meaning |\n| --- | :-: | --- |"
    rows = [f"| setting_{i} | {i} | what setting {i} does |" for i in range(40)]
    doc = "## Settings\n\nEvery setting:\n\n" + header + "\n" + "\n".join(rows) + "\n\nThe end.\n"
    chunks = chunk_markdown(doc, count_tokens=count_words, max_tokens=40, overlap_tokens=8).chunks
    table = [c for c in chunks if "| setting_" in c.text]

    assert len(table) >= 3
    for chunk in table:
        start = chunk.text.index("| Setting |")
        assert chunk.text[start:].startswith(header + "\n| setting_")
        assert chunk.token_count <= 40
    cells = [ln for c in table for ln in c.text.split("\n") if ln.startswith("| setting_")]
    assert cells == rows  # each row once, in order
    assert chunks[-1].text.endswith("The end.")


def test_mdx_statements_over_several_lines_are_dropped_to_the_next_blank_line() -> None:
    doc = (
        "import {\n  Tabs,\n  TabItem,\n} from '@theme/Tabs';\n\n"
        "export const toc = [\n  {value: 'Install', id: 'install', level: 2},\n];\n\n"
        "export default function Layout({children}) {\n  return <main>{children}</main>;\n}\n\n"
        "## Install\n\n"
        "export PATH=$HOME/bin before you run it.\n"
    )

    [chunk] = chunk_markdown(doc, count_tokens=count_words).chunks

    assert chunk.text == "## Install\n\nexport PATH=$HOME/bin before you run it."
