"""Markdown-aware chunking: turns one documentation file into the pieces that get embedded.

YAML (`---`) or TOML (`+++`) front matter is dropped (its `title` is kept), and so are MDX
imports and exports. The document is cut into sections at its headings, and each chunk remembers
the headings above it (without a `{#custom-anchor}`). A section longer than the token budget is
cut at paragraph, then line, then sentence (CJK ones too), then word boundaries; consecutive
pieces of one section share a little trailing text, so a passage cut in two can still be found. A
code fence is never cut while it fits in one chunk; a table that does not fit is cut between
rows, each piece under the table's header row. A word still longer than the budget (a long URL, a
base64 blob, a minified line, CJK text without spaces) is cut, between graphemes, where one more
character would pass the budget. So no chunk is over the budget and no text is dropped, whatever
the text; the one exception is a single character that alone counts more tokens than the whole
budget.
"""

import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import yaml

TokenCounter = Callable[[str], int]

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# A setext underline only makes a heading of a plain one-line paragraph, not of a list item or
# quote: those cases are left as text rather than guessed at.
_NOT_PLAIN_TEXT = re.compile(r"^\s*(?:[-*+>|]|\d+[.)])(?:\s|$)")
_FRONT_MATTER_FENCE = "---"
_FRONT_MATTER_ENDS = ("---", "...")
_TOML_FRONT_MATTER_FENCE = "+++"  # Hugo's
# `## Install {#install}`: a custom anchor (Docusaurus, VitePress, Pandoc), no words to search.
_HEADING_ID = re.compile(r"[ \t]*\{#[^}\s]+[^}]*\}$")
# A table's delimiter row (`| --- | :-: |`), under its header row: each `|` starts a column, so
# matching takes time in proportion to the line.
_TABLE_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
# An MDX import of a component (`import Tabs from '@theme/Tabs';`): code, not words to search.
_MDX_IMPORT = re.compile(r"""^import\s+(?:[\w*{}\s,]+\s+from\s+)?["'][^"']+["'];?\s*$""")
# The first line of an MDX import or export over several lines (`export const toc = [`, `import {`):
# as in MDX, the statement runs to the next blank line.
_MDX_STATEMENT = re.compile(
    r"^(?:export\s+(?:const|let|var|function|async|class|default)\b|export\s*[{*]"
    r"|import\s*\{|import\s+\*\s+as\s|import\s+\w+\s*,\s*\{)"
)
_BLOCK_SEP = "\n\n"
_LINE_SEP = "\n"
# A CJK sentence ends in an ideographic or a full-width full stop, exclamation or question mark,
# with no space after it; the closing quotes and brackets after it stay with it.
_CJK_END = "\u3002\uff61\uff0e\uff01\uff1f"
_CJK_CLOSE = "\u300d\u300f\u201d\u2019\uff09"
_SENTENCE = re.compile(rf"\s*\S.*?(?:[.!?](?=\s|$)\s*|[{_CJK_END}][{_CJK_CLOSE}]*\s*|$)")
_WORD = re.compile(r"\s*\S+\s*")
_SENTENCE_OR_LINE_START = re.compile(rf"\n|(?<=[.!?])[ \t]+|(?<=[{_CJK_END}])[{_CJK_CLOSE}]*[ \t]*")
_WORD_START = re.compile(r"\s+")
_BLANK_REST = re.compile(r"\s*\Z")
# Counting takes time and memory in proportion to the text (the local model's tokenizer: ~8 s and
# ~750 MB for one 5 MB line), so a text with more characters than this per token of the budget is
# too long without being counted. Prose has about 4 characters a token.
_MAX_CHARS_PER_TOKEN = 32
# What joins a character to the grapheme before it: marks, joiners, variation selectors, emoji
# skin tones, tag characters (and whatever follows a zero-width joiner or a virama, or pairs up a
# flag).
_MARK_CATEGORIES = frozenset({"Mn", "Mc", "Me"})
_VIRAMA = 9  # its canonical combining class: the consonant after it makes an Indic conjunct
_GRAPHEME_EXTEND = re.compile(
    "[\u200c\u200d\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)
_ZERO_WIDTH_JOINER = "\u200d"
_REGIONAL_INDICATOR = re.compile("[\U0001f1e6-\U0001f1ff]")
# A cut looks this far back for the start of the grapheme it falls in, then cuts inside it.
_LONGEST_GRAPHEME = 32


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int  # 0-based position in the document
    text: str  # markdown, as embedded and shown in search results
    heading_path: tuple[str, ...]  # the headings above the chunk, outermost first
    token_count: int


@dataclass(frozen=True, slots=True)
class ChunkedDocument:
    title: str | None  # the front matter's `title`, else the first H1
    chunks: list[Chunk]


@dataclass(frozen=True, slots=True)
class _Block:
    text: str
    fence: str = ""  # the opening fence marker (e.g. "```") when the block is a code fence
    is_heading: bool = False


@dataclass(slots=True)
class _Section:
    path: tuple[str, ...]
    level: int
    blocks: list[_Block]


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    sep: str  # what joins it to the unit before it in the same chunk
    fenced: bool = False  # a whole code fence or table piece: overlap never takes part of it


def chunk_markdown(
    text: str, *, count_tokens: TokenCounter, max_tokens: int = 400, overlap_tokens: int = 50
) -> ChunkedDocument:
    """Split a markdown document into heading-aware chunks of at most `max_tokens` tokens."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"overlap_tokens must be in [0, max_tokens), got {overlap_tokens}")
    normalized = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    title, lines = _strip_front_matter(normalized.split("\n"))
    sections, first_h1 = _sections(lines)
    chunks: list[Chunk] = []
    for section in sections:
        units = [u for b in section.blocks for u in _units(b, count_tokens, max_tokens)]
        for piece in _pack(units, count_tokens, max_tokens, overlap_tokens):
            chunks.append(Chunk(len(chunks), piece, section.path, count_tokens(piece)))
    return ChunkedDocument(title=title or first_h1, chunks=chunks)


def _strip_front_matter(lines: list[str]) -> tuple[str | None, list[str]]:
    fence = lines[0].rstrip() if lines else ""
    if fence not in (_FRONT_MATTER_FENCE, _TOML_FRONT_MATTER_FENCE):
        return None, lines
    ends = _FRONT_MATTER_ENDS if fence == _FRONT_MATTER_FENCE else (fence,)
    end = next((i for i, ln in enumerate(lines) if i and ln.rstrip() in ends), None)
    if end is None:
        return None, lines
    body = "\n".join(lines[1:end])
    try:
        data = yaml.safe_load(body) if fence == _FRONT_MATTER_FENCE else tomllib.loads(body)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, RecursionError):
        # Malformed front matter is kept as ordinary text rather than failing the file.
        return None, lines
    if data is not None and not isinstance(data, dict):
        return None, lines  # e.g. a thematic break followed by prose: not front matter at all
    title = (data or {}).get("title")
    return ((title.strip() or None) if isinstance(title, str) else None), lines[end + 1 :]


def _sections(lines: list[str]) -> tuple[list[_Section], str | None]:
    sections = [_Section(path=(), level=0, blocks=[])]
    stack: list[tuple[int, str]] = []
    paragraph: list[str] = []
    fence: list[str] = []
    marker = ""
    in_statement = False  # an MDX import or export, to the next blank line
    first_h1: str | None = None

    def flush_paragraph() -> None:
        if paragraph:
            sections[-1].blocks.append(_Block(_LINE_SEP.join(paragraph)))
            paragraph.clear()

    def start_heading(level: int, title: str, source: str) -> None:
        nonlocal first_h1
        if level == 1 and first_h1 is None and title:
            first_h1 = title
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path, current = tuple(t for _, t in stack if t), sections[-1]
        block = _Block(source, is_heading=True)
        # A heading directly followed by a deeper one joins it, so no chunk is a bare heading.
        if level > current.level and all(b.is_heading for b in current.blocks):
            current.path, current.level = path, level
            current.blocks.append(block)
        else:
            sections.append(_Section(path=path, level=level, blocks=[block]))

    for line in lines:
        if in_statement:
            in_statement = bool(line.strip())
        elif marker:
            fence.append(line)
            if _closes(line, marker):
                sections[-1].blocks.append(_Block(_LINE_SEP.join(fence), fence=marker))
                marker, fence = "", []
        elif opener := _fence_marker(line):
            flush_paragraph()
            marker, fence = opener, [line]
        elif atx := _ATX_HEADING.match(line):
            flush_paragraph()
            start_heading(len(atx[1]), _HEADING_ID.sub("", (atx[2] or "").strip()), line)
        elif (
            len(paragraph) == 1
            and _SETEXT_UNDERLINE.match(line)
            and not _NOT_PLAIN_TEXT.match(paragraph[0])
        ):
            heading_line = paragraph.pop()
            start_heading(1 if "=" in line else 2, heading_line.strip(), f"{heading_line}\n{line}")
        elif not paragraph and _MDX_IMPORT.match(line):
            continue
        elif not paragraph and _MDX_STATEMENT.match(line):
            in_statement = True
        elif line.strip():
            paragraph.append(line)
        else:
            flush_paragraph()
    if marker:  # an unclosed fence runs to the end of the document, as in CommonMark
        sections[-1].blocks.append(_Block(_LINE_SEP.join(fence), fence=marker))
    flush_paragraph()
    return sections, first_h1


def _fence_marker(line: str) -> str:
    match = _FENCE_OPEN.match(line)
    if match is None or (match[1][0] == "`" and "`" in match[2]):
        return ""
    return match[1]


def _closes(line: str, marker: str) -> bool:
    match = _FENCE_CLOSE.match(line)
    return match is not None and match[1][0] == marker[0] and len(match[1]) >= len(marker)


def _units(block: _Block, count: TokenCounter, max_tokens: int) -> list[_Unit]:
    """The block as one unit if it fits, else as line, sentence or word pieces.

    Those pieces fit, all but a word longer than the budget, which `_pack` cuts: checking each
    word here would cost a token count per word.
    """
    if _fits(block.text, count, max_tokens):
        return [_Unit(block.text, _BLOCK_SEP, fenced=bool(block.fence))]
    if block.fence:
        return _split_fence(block, count, max_tokens)
    lines = block.text.split(_LINE_SEP)
    if len(lines) > 2 and "|" in lines[0] and _TABLE_DELIMITER.match(lines[1]):
        return _split_table(lines, count, max_tokens)
    return _plain_units(block.text, count, max_tokens)


def _plain_units(text: str, count: TokenCounter, max_tokens: int) -> list[_Unit]:
    units = _line_units(text.split(_LINE_SEP), lambda ln: _fits(ln, count, max_tokens))
    return [_Unit(units[0].text, _BLOCK_SEP), *units[1:]]


def _line_units(lines: list[str], fits: Callable[[str], bool]) -> list[_Unit]:
    """Each line as a unit if it fits, else its sentences, else its words."""
    units: list[_Unit] = []
    for line in lines:
        pieces = [line]
        if not fits(line):
            sentences = _SENTENCE.findall(line) or [line]
            pieces = [w for s in sentences for w in ([s] if fits(s) else _WORD.findall(s) or [s])]
        units.append(_Unit(pieces[0], _LINE_SEP))
        units.extend(_Unit(piece, "") for piece in pieces[1:])
    return units


def _split_fence(block: _Block, count: TokenCounter, max_tokens: int) -> list[_Unit]:
    # A fence too long for one chunk is the one place a fence is cut: between its lines (then
    # sentences or words, for one enormous line), and each piece is wrapped in the fence's own
    # opening and closing lines so that every chunk is valid markdown on its own.
    lines = block.text.split(_LINE_SEP)
    closed = len(lines) > 1 and _closes(lines[-1], block.fence)
    opener, closer = lines[0], lines[-1] if closed else block.fence
    body = lines[1:-1] if closed else lines[1:]

    def wrap(units: list[_Unit]) -> str:
        return f"{opener}\n{_join(units)}\n{closer}"

    if not body or not _fits(wrap([_Unit("", "")]), count, max_tokens):
        # The fence lines alone fill the budget (an enormous info string): the budget comes
        # first, so the fence is cut as plain text, without the blank lines that could each
        # become an empty chunk.
        text = _LINE_SEP.join(line for line in lines if line.strip())
        return _plain_units(text, count, max_tokens)
    pieces = _line_units(body, lambda ln: _fits(wrap([_Unit(ln, "")]), count, max_tokens))
    packed = _pack(pieces, count, max_tokens, 0, render=wrap)
    return [_Unit(piece, _BLOCK_SEP, fenced=True) for piece in packed]


def _split_table(lines: list[str], count: TokenCounter, max_tokens: int) -> list[_Unit]:
    """A table too long for one chunk is cut between its rows, and each piece starts with the
    table's header and delimiter rows, so that its cells keep their column names."""
    header = _LINE_SEP.join(lines[:2])

    def under_header(units: list[_Unit]) -> str:
        return f"{header}\n{_join(units)}"

    if not _fits(under_header([_Unit("", "")]), count, max_tokens):
        return _plain_units(_LINE_SEP.join(lines), count, max_tokens)  # the header fills it
    rows = _line_units(
        lines[2:], lambda ln: _fits(under_header([_Unit(ln, "")]), count, max_tokens)
    )
    packed = _pack(rows, count, max_tokens, 0, render=under_header)
    return [_Unit(piece, _BLOCK_SEP, fenced=True) for piece in packed]


def _fits(text: str, count: TokenCounter, max_tokens: int) -> bool:
    return _bounded_count(text, count, max_tokens) <= max_tokens


def _bounded_count(text: str, count: TokenCounter, max_tokens: int) -> int:
    """`count(text)`, or more than `max_tokens` without counting a text too long to fit."""
    if len(text) > max_tokens * _MAX_CHARS_PER_TOKEN:
        return max_tokens + 1
    return count(text)


def _join(units: list[_Unit]) -> str:
    return (units[0].text + "".join(u.sep + u.text for u in units[1:])).rstrip()


def _pack(
    units: list[_Unit],
    count: TokenCounter,
    max_tokens: int,
    overlap_tokens: int,
    render: Callable[[list[_Unit]], str] = _join,
) -> list[str]:
    """Fill chunks with as many whole units as fit; each starts with the previous one's tail.

    A unit too long for a chunk of its own is cut into pieces that each fill one; the last
    piece is packed with the units after it.
    """

    def fits(candidate: list[_Unit]) -> bool:
        return _fits(render(candidate), count, max_tokens)

    def size(piece: str) -> int:
        return _bounded_count(render([_Unit(piece, "")]), count, max_tokens)

    units = list(units)
    chunks: list[str] = []
    start, taken, carried = 0, 1, list[_Unit]()
    while start < len(units):
        head = carried if carried and fits([*carried, units[start]]) else []
        if not head and not fits(units[start : start + 1]):
            unit = units[start]
            *whole, last = _cut(unit.text, size, max_tokens)
            # A piece of nothing but spaces (a run longer than a chunk) has nothing to search for.
            chunks.extend(render([_Unit(piece, "")]) for piece in whole if not piece.isspace())
            units[start] = _Unit(last, unit.sep if not whole else "")
        end = _longest_fit(head, units, start, fits, taken)
        chunks.append(render([*head, *units[start:end]]))
        if end < len(units):
            budget = min(
                overlap_tokens, max_tokens - _bounded_count(units[end].text, count, max_tokens)
            )
            carried = _overlap([*head, *units[start:end]], count, budget)
        start, taken = end, end - start
    return chunks


def _longest_fit(
    head: list[_Unit],
    units: list[_Unit],
    start: int,
    fits: Callable[[list[_Unit]], bool],
    guess: int,
) -> int:
    """The largest end such that head + units[start:end] fits; the first unit is always taken.

    The search starts at `guess` units (what the chunk before took): one enormous line
    (thousands of word units) costs a few token counts a chunk, not one per word.
    """
    return _furthest(
        lambda end: fits([*head, *units[start:end]]), start + 1, len(units), start + guess
    )


def _furthest(fits: Callable[[int], bool], lo: int, hi: int, guess: int) -> int:
    """The largest n in [lo, hi] for which `fits(n)` holds, `lo` taken as given.

    The search starts at `guess`, then gallops and bisects from there: it costs a count or two
    per doubling of how far off the guess was, not one count per unit.
    """
    step, probe = 1, min(max(guess, lo), hi)
    if probe == lo or fits(probe):
        lo = probe
        while lo + step <= hi and fits(lo + step):
            lo, step = lo + step, step * 2
        bound = min(lo + step, hi + 1)
    else:
        bound = probe
        while bound - step > lo and not fits(bound - step):
            bound, step = bound - step, step * 2
        lo = max(bound - step, lo)
    while bound - lo > 1:
        mid = (lo + bound) // 2
        lo, bound = (mid, bound) if fits(mid) else (lo, mid)
    return lo


def _cut(text: str, size: Callable[[str], int], max_tokens: int) -> list[str]:
    """`text` in consecutive pieces that each end where one more character would take them past
    `max_tokens` (`size` counts a piece as it will be chunked); the last one is what is left.

    Each search starts from the length of the piece before, so a run of like text (a blob, a
    line of CJK) costs a few counts a piece, however long it is.
    """
    pieces: list[str] = []
    start, guess = 0, max_tokens
    while start < len(text):
        end = _cut_end(text, start, guess, size, max_tokens)
        if _BLANK_REST.match(text, end):
            end = len(text)  # trailing spaces are dropped from a chunk, not made one of their own
        pieces.append(text[start:end])
        start, guess = end, end - start
    return pieces


def _cut_end(text: str, start: int, guess: int, size: Callable[[str], int], max_tokens: int) -> int:
    """The end of the piece of `text` from `start`: the furthest that fits, moved back to the
    start of the grapheme it falls in when that still fits; at least one character."""
    limit = min(len(text), start + max_tokens * _MAX_CHARS_PER_TOKEN)
    target = max_tokens + 0.5  # between the last token that fits and the first that does not
    lo, lo_tokens = start, 0  # the longest known to fit
    hi, hi_tokens = limit + 1, 0  # the shortest known not to (0: not counted yet)
    probe, step, fitted = start + guess, 1, None
    while hi - lo > 1:
        probe = min(max(probe, lo + 1), hi - 1)
        tokens = size(text[start:probe])
        fits = tokens <= max_tokens
        if fits:
            lo, lo_tokens = probe, tokens
        else:
            hi, hi_tokens = probe, tokens
        # Each probe aims where the tokens counted so far put the edge of the budget. Probes
        # landing on one side again and again step on by doubling steps, so a run of
        # characters that adds no token (a long unknown word) costs few counts.
        step, fitted = (step * 2 if fits == fitted else 1), fits
        if hi_tokens:
            probe = lo + round((target - lo_tokens) * (hi - lo) / (hi_tokens - lo_tokens))
        else:
            probe = start + round((lo - start) * target / max(lo_tokens, 1))
        probe = max(probe, lo + step) if fits else min(probe, hi - step)
    if lo == start:
        return start + 1  # not even one character fits: the smallest piece over the budget
    end = _grapheme_start(text, lo, start)
    return end if end == lo or size(text[start:end]) <= max_tokens else lo


def _grapheme_start(text: str, index: int, start: int) -> int:
    """The last grapheme boundary at or before `index` and after `start`, or `index` itself when
    there is none within `_LONGEST_GRAPHEME` characters."""
    if index >= len(text):
        return index
    for end in range(index, max(start, index - _LONGEST_GRAPHEME), -1):
        if not _joins_previous(text, end):
            return end
    return index


def _joins_previous(text: str, index: int) -> bool:
    """Whether `text[index]` belongs to the grapheme of the character before it (the common
    cases of Unicode's rules: marks, joiners, emoji sequences, flags, Indic conjuncts)."""
    char, previous = text[index], text[index - 1]
    if (
        unicodedata.category(char) in _MARK_CATEGORIES
        or _GRAPHEME_EXTEND.match(char)
        or previous == _ZERO_WIDTH_JOINER
        or unicodedata.combining(previous) == _VIRAMA
    ):
        return True
    if not (_REGIONAL_INDICATOR.match(char) and _REGIONAL_INDICATOR.match(previous)):
        return False
    # A flag is a pair of regional indicators: an odd number of them before `char` leaves it
    # the second of a pair.
    first = index - 1
    while (
        first > 0
        and index - first < _LONGEST_GRAPHEME
        and _REGIONAL_INDICATOR.match(text[first - 1])
    ):
        first -= 1
    return (index - first) % 2 == 1


def _overlap(previous: list[_Unit], count: TokenCounter, budget: int) -> list[_Unit]:
    """The longest tail of `previous` within `budget` tokens, cut only between lines/sentences."""
    if budget <= 0:
        return []

    def fits(units: list[_Unit]) -> bool:
        return count(_join(units)) <= budget

    kept = _furthest(lambda n: fits(previous[len(previous) - n :]), 0, len(previous), 1)
    carried = previous[len(previous) - kept :]
    if kept < len(previous) and not (unit := previous[-kept - 1]).fenced:
        tail = _tail(unit.text, lambda t: fits([_Unit(t, ""), *carried]))
        if tail:
            carried.insert(0, _Unit(tail, unit.sep))
    return carried


def _tail(text: str, fits: Callable[[str], bool]) -> str:
    """The longest suffix of whole sentences or lines that fits, else of whole words."""
    for boundary in (_SENTENCE_OR_LINE_START, _WORD_START):
        best = ""
        for match in reversed(list(boundary.finditer(text))):
            candidate = text[match.end() :]
            if not candidate.strip():
                continue
            if not fits(candidate):
                break
            best = candidate
        if best:
            return best
    return ""
