"""The per-repository config file, `lightfast.yml` at the repository root, read at the pushed sha.

A missing or empty file means the defaults. Anything wrong with the file raises `RepoConfigError`
(a `ValueError`) whose message names the line and the problem, e.g.
`lightfast.yml line 4: chunk_overlap must be less than chunk_size (400)`, so the failed job tells
the author what to fix.

Globs are matched against repository-relative paths such as `docs/guide/intro.md`, from the root:

- `*` matches within one path segment, `?` one character other than `/`, `[a-z]` / `[!a-z]` one
  character in (or not in) a class, and `\\` makes the next character literal;
- `**/` matches zero or more directories, so `**/*.md` matches `README.md` and `a/b/c.md`; a
  trailing `/**` (or just a trailing `/`) matches everything inside a directory;
- a pattern without `**/` is anchored: `*.md` matches `README.md` but not `docs/README.md`;
- a leading `/` anchors at the repository's root too (`/docs/**` is `docs/**`), never at the
  filesystem's; a `.` or `..` segment is refused, as no path in a repository has one;
- matching is case-sensitive, like git.
"""

import re
import reprlib
from functools import lru_cache
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

CONFIG_FILE = "lightfast.yml"
STORE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Error types raised by the validators below; their messages read as the key's predicate.
_OWN_ERRORS = {"version", "store_name", "glob", "chunk_overlap"}
_YAML_STR = "tag:yaml.org,2002:str"
# Friendlier words than pydantic's for the mistakes people make in YAML.
_PHRASES = {
    "tuple_type": "must be a list",
    "int_type": "must be a whole number",
    "string_type": "must be text",
}
# Values shown in errors, without walking all of a large one.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60
# A key whose default can be invalid only because of another key's value.
_BLAME_INSTEAD = {"chunk_overlap": "chunk_size"}


class RepoConfigError(ValueError):
    """`lightfast.yml` cannot be used; `line` is 1-based, None when no line is to blame."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        where = f"{CONFIG_FILE} line {line}" if line is not None else CONFIG_FILE
        super().__init__(f"{where}: {problem}")
        self.problem = problem
        self.line = line


class GlobError(ValueError):
    pass


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression that matches the paths `pattern` matches (see the module doc)."""
    if not pattern:
        raise GlobError("is empty")
    body = pattern.removeprefix("/")
    if body.endswith("/"):
        body += "**"
    segments = body.split("/")
    if "" in segments:
        raise GlobError("has an empty path segment ('//')")
    outside = next((segment for segment in segments if segment in (".", "..")), None)
    if outside is not None:
        raise GlobError(
            f"has a '{outside}' segment: globs match paths inside the repository, from its root"
        )
    # The segments between two `**` are matched where they first fit and never tried elsewhere
    # (an atomic group): the first fit leaves the most path to what follows, and trying every
    # other fit is what turns a few wildcards into minutes of backtracking. So is the `*` of a
    # segment (see `_segment_regex`); a match takes time in proportion to the path's length.
    runs: list[list[str]] = [[]]  # segment regexes, split at each `**`
    for index, segment in enumerate(segments):
        if segment != "**":
            runs[-1].append(_segment_regex(segment))
        elif index == 0 or segments[index - 1] != "**":
            runs.append([])
    if len(runs) == 1:
        return re.compile("/".join(runs[0]))
    first, *middle, last = ["/".join(run) for run in runs]
    regex = f"{first}/" if first else ""
    regex += "".join(f"(?>(?:[^/]+/)*?{run}/)" for run in middle)
    regex += f"(?:[^/]+/)*{last}" if last else ".*"
    return re.compile(regex)


def _segment_regex(segment: str) -> str:
    """One segment's regex. Its `*`s split it into pieces of one-character matchers; a middle
    piece is matched at its first fit, atomically, as `fnmatch` does: with pieces of fixed length,
    the first fit is the one that leaves the most room to the rest."""
    pieces: list[list[str]] = [[]]
    out = pieces[0]
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1
            out = []
            pieces.append(out)
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            regex, i = _class_regex(segment, i)
            out.append(regex)
        elif char == "\\":
            if i + 1 == len(segment):
                raise GlobError("ends with a lone '\\'")
            i += 1
            out.append(re.escape(segment[i]))
        else:
            out.append(re.escape(char))
        i += 1
    first, *rest = ["".join(piece) for piece in pieces]
    if not rest:
        return first
    *middle, last = rest
    return first + "".join(f"(?>[^/]*?{piece})" for piece in middle) + f"[^/]*{last}"


def _class_regex(segment: str, start: int) -> tuple[str, int]:
    """The regex of the class opening at `start`, and the index of its closing `]`."""
    i = start + 1
    negated = i < len(segment) and segment[i] in "!^"
    if negated:
        i += 1
    members: list[str] = []
    first = True
    while i < len(segment) and (segment[i] != "]" or first):
        char = segment[i]
        if char == "\\" and i + 1 < len(segment):
            i += 1
            members.append(re.escape(segment[i]))
        elif char == "-" and not first and i + 1 < len(segment) and segment[i + 1] != "]":
            members.append("-")
        else:
            members.append(re.escape(char))
        first = False
        i += 1
    if i == len(segment):
        raise GlobError(f"has an unclosed '[' at position {start + 1}")
    body = "".join(members)
    # A class never matches the separator, negated or not.
    return (f"[^/{body}]" if negated else f"(?!/)[{body}]"), i


def glob_matches(pattern: str, path: str) -> bool:
    return compile_glob(pattern).fullmatch(path) is not None


def _valid_glob(pattern: str) -> str:
    try:
        compile_glob(pattern)
    except GlobError as exc:
        raise PydanticCustomError(
            "glob", "is not a valid glob: '{pattern}' {why}", {"pattern": pattern, "why": str(exc)}
        ) from exc
    except re.error as exc:  # a class the regex engine refuses, such as a range `[z-a]`
        raise PydanticCustomError(
            "glob",
            "is not a valid glob: '{pattern}' has {why}",
            {"pattern": pattern, "why": exc.msg},
        ) from exc
    return pattern


Glob = Annotated[str, Field(strict=True), AfterValidator(_valid_glob)]


class RepoConfig(BaseModel):
    """What `lightfast.yml` says; every field has a default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    store: str = Field("docs", strict=True)
    include: tuple[Glob, ...] = ("**/*.md", "**/*.mdx")
    exclude: tuple[Glob, ...] = ()
    chunk_size: int = Field(400, strict=True, ge=50, le=4000, description="tokens")
    chunk_overlap: int = Field(50, strict=True, ge=0, validate_default=True, description="tokens")
    max_file_size: int = Field(1_000_000, strict=True, ge=1, le=10_000_000, description="bytes")

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_the_number_1(cls, value: Any) -> Any:
        # Literal[1] alone would take `true` and `1.0` as 1.
        if type(value) is not int or value != 1:
            raise PydanticCustomError("version", "must be 1 (got {value})", {"value": repr(value)})
        return value

    @field_validator("store")
    @classmethod
    def _store_name(cls, value: str) -> str:
        if not STORE_NAME.fullmatch(value):
            raise PydanticCustomError(
                "store_name",
                "must be 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter "
                "or digit (got '{value}')",
                {"value": value},
            )
        return value

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: ValidationInfo) -> int:
        size = info.data.get("chunk_size")
        if size is not None and value >= size:
            raise PydanticCustomError(
                "chunk_overlap", "must be less than chunk_size ({size})", {"size": size}
            )
        return value

    @property
    def chunking(self) -> str:
        """The settings that shape chunks: chunks made under other ones are stale."""
        return f"chunk_size={self.chunk_size} chunk_overlap={self.chunk_overlap}"

    def includes(self, path: str) -> bool:
        """True when an include glob matches `path` and no exclude glob does."""
        return any(glob_matches(p, path) for p in self.include) and not any(
            glob_matches(p, path) for p in self.exclude
        )


class _Loader(yaml.SafeLoader):
    """The safe loader without aliases: `*name` stands for a whole earlier value, so a few
    nested ones make a file of a few hundred bytes stand for billions of values."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            alias = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                problem="aliases (*name) are not allowed", problem_mark=alias.start_mark
            )
        return super().compose_node(parent, index)


def parse_repo_config(content: bytes | str | None) -> RepoConfig:
    """The config in `content`, the file's text; None (no file) or an empty file → defaults."""
    if content is None:
        return RepoConfig()
    text = _decode(content) if isinstance(content, bytes) else content
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader, without aliases)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(part for part in (exc.context, exc.problem) if part)
        raise RepoConfigError(f"invalid YAML: {problem}", _line(mark)) from exc
    except yaml.YAMLError as exc:
        raise RepoConfigError(f"invalid YAML: {exc}") from exc
    except RecursionError as exc:  # the parser recurses once per level of `[[[...]]]`
        raise RepoConfigError("lists or mappings are nested too deeply") from exc
    if root is None or data is None:
        return RepoConfig()
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise RepoConfigError(
            "the file must be a mapping of keys to values, like `store: docs`",
            _line(root.start_mark),
        )
    _check_keys(root)
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, root, data) from exc


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise RepoConfigError("the file is not UTF-8 text", line) from exc


def _line(mark: Any) -> int | None:
    return None if mark is None else int(mark.line) + 1


def _check_keys(mapping: yaml.MappingNode) -> None:
    seen: dict[str, int | None] = {}
    for key, _value in mapping.value:
        name = str(key.value)
        if key.tag != _YAML_STR:
            raise RepoConfigError(f"{name} is not a key name", _line(key.start_mark))
        if name in seen:
            raise RepoConfigError(
                f"{name} is set twice (first on line {seen[name]})", _line(key.start_mark)
            )
        seen[name] = _line(key.start_mark)


def _config_error(
    exc: ValidationError, root: yaml.MappingNode, data: dict[Any, Any]
) -> RepoConfigError:
    """One error for all of pydantic's, at the line of the first problem."""
    located: list[tuple[int | None, str]] = []
    for error in exc.errors():
        loc = error["loc"]
        key = " ".join(str(part) if isinstance(part, str) else f"item {part + 1}" for part in loc)
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(RepoConfig.model_fields)
            problem = f"unknown key {key!r} (allowed: {allowed})"
        elif error["type"] in _OWN_ERRORS:
            problem = f"{key} {error['msg']}"
        elif error["type"] in _PHRASES:
            problem = f"{key} {_PHRASES[error['type']]} (got {_short_repr(error['input'])})"
        else:
            message = error["msg"][:1].lower() + error["msg"][1:]
            problem = f"{key}: {message} (got {_short_repr(error['input'])})"
        node = _node_at(root, loc)
        if node is None and loc and loc[0] not in data and loc[0] in _BLAME_INSTEAD:
            # A default that only fails together with another key: point at that key.
            problem += f" (the default {loc[0]} is {RepoConfig.model_fields[str(loc[0])].default})"
            node = _node_at(root, (_BLAME_INSTEAD[str(loc[0])],))
        located.append((_line(node.start_mark) if node is not None else None, problem))
    located.sort(key=lambda item: (item[0] is None, item[0] or 0))
    first_line, first_problem = located[0]
    rest = [f"line {line}: {problem}" if line else problem for line, problem in located[1:]]
    return RepoConfigError("; ".join([first_problem, *rest]), first_line)


def _short_repr(value: Any, limit: int = 60) -> str:
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _node_at(root: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """The node a pydantic error location points at: a top-level key's own line, a list's item."""
    node: yaml.Node = root
    for depth, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                return None
            node = pair[0] if depth == len(loc) - 1 else pair[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            return None
    return node
