"""Markdown-aware chunking: turns one documentation file into the pieces that get embedded.

YAML front matter is dropped (its `title` is kept). The document is cut into sections at its
headings, and each chunk remembers the headings above it. A section longer than the token budget
is cut at paragraph, then line, then sentence, then word boundaries; consecutive pieces of one
section share a little trailing text, so a passage cut in two can still be found. A code fence is
never cut while it fits in one chunk. Text is never truncated: the only chunk allowed past the
budget is one holding a single word (in a fence: with its fence lines) longer than the budget.
"""

import re
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
_BLOCK_SEP = "\n\n"
_LINE_SEP = "\n"
_SENTENCE = re.compile(r"\s*\S.*?(?:[.!?](?=\s|$)\s*|$)")
_WORD = re.compile(r"\s*\S+\s*")
_SENTENCE_OR_LINE_START = re.compile(r"\n|(?<=[.!?])[ \t]+")
_WORD_START = re.compile(r"\s+")


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
    fenced: bool = False  # a whole code fence: overlap never takes only part of it


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
    if not lines or lines[0].rstrip() != _FRONT_MATTER_FENCE:
        return None, lines
    end = next((i for i, ln in enumerate(lines) if i and ln.rstrip() in _FRONT_MATTER_ENDS), None)
    if end is None:
        return None, lines
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except (yaml.YAMLError, ValueError, RecursionError):
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
        if marker:
            fence.append(line)
            if _closes(line, marker):
                sections[-1].blocks.append(_Block(_LINE_SEP.join(fence), fence=marker))
                marker, fence = "", []
        elif opener := _fence_marker(line):
            flush_paragraph()
            marker, fence = opener, [line]
        elif atx := _ATX_HEADING.match(line):
            flush_paragraph()
            start_heading(len(atx[1]), (atx[2] or "").strip(), line)
        elif (
            len(paragraph) == 1
            and _SETEXT_UNDERLINE.match(line)
            and not _NOT_PLAIN_TEXT.match(paragraph[0])
        ):
            heading_line = paragraph.pop()
            start_heading(1 if "=" in line else 2, heading_line.strip(), f"{heading_line}\n{line}")
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
    """The block as one unit if it fits, else as line, sentence or word pieces that each fit."""
    if count(block.text) <= max_tokens:
        return [_Unit(block.text, _BLOCK_SEP, fenced=bool(block.fence))]
    if block.fence:
        return _split_fence(block, count, max_tokens)
    units = _line_units(block.text.split(_LINE_SEP), lambda ln: count(ln) <= max_tokens)
    return [_Unit(units[0].text, _BLOCK_SEP), *units[1:]]


def _line_units(lines: list[str], fits: Callable[[str], bool]) -> list[_Unit]:
    """Each line as a unit if it fits, else its sentences, else (last resort) its words."""
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
    if not body:
        return [_Unit(block.text, _BLOCK_SEP, fenced=True)]

    def wrap(units: list[_Unit]) -> str:
        return f"{opener}\n{_join(units)}\n{closer}"

    pieces = _line_units(body, lambda ln: count(wrap([_Unit(ln, "")])) <= max_tokens)
    packed = _pack(pieces, count, max_tokens, 0, render=wrap)
    return [_Unit(piece, _BLOCK_SEP, fenced=True) for piece in packed]


def _join(units: list[_Unit]) -> str:
    return (units[0].text + "".join(u.sep + u.text for u in units[1:])).rstrip()


def _pack(
    units: list[_Unit],
    count: TokenCounter,
    max_tokens: int,
    overlap_tokens: int,
    render: Callable[[list[_Unit]], str] = _join,
) -> list[str]:
    """Fill chunks with as many whole units as fit; each starts with the previous one's tail."""

    def fits(candidate: list[_Unit]) -> bool:
        return count(render(candidate)) <= max_tokens

    chunks: list[str] = []
    start, carried = 0, list[_Unit]()
    while start < len(units):
        head = carried if fits([*carried, units[start]]) else []
        end = _longest_fit(head, units, start, fits)
        chunks.append(render([*head, *units[start:end]]))
        if end < len(units):
            budget = min(overlap_tokens, max_tokens - count(units[end].text))
            carried = _overlap([*head, *units[start:end]], count, budget)
        start = end
    return chunks


def _longest_fit(
    head: list[_Unit], units: list[_Unit], start: int, fits: Callable[[list[_Unit]], bool]
) -> int:
    """The largest end such that head + units[start:end] fits; the first unit is always taken.

    Galloping then bisecting keeps one enormous line (thousands of word units) from costing a
    token count per word.
    """
    lo, hi, step = start + 1, len(units), 1
    while lo + step <= hi and fits([*head, *units[start : lo + step]]):
        lo, step = lo + step, step * 2
    bound = min(lo + step, hi + 1)
    while bound - lo > 1:
        mid = (lo + bound) // 2
        lo, bound = (mid, bound) if fits([*head, *units[start:mid]]) else (lo, mid)
    return lo


def _overlap(previous: list[_Unit], count: TokenCounter, budget: int) -> list[_Unit]:
    """The longest tail of `previous` within `budget` tokens, cut only between lines/sentences."""
    carried: list[_Unit] = []
    if budget <= 0:
        return carried
    for unit in reversed(previous):
        if count(_join([unit, *carried])) <= budget:
            carried.insert(0, unit)
            continue
        if not unit.fenced:
            tail = _tail(unit.text, lambda t: count(_join([_Unit(t, ""), *carried])) <= budget)
            if tail:
                carried.insert(0, _Unit(tail, unit.sep))
        break
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
