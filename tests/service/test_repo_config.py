"""lightfast.yml: defaults, a full file, errors that name the right line, and the glob rules."""

import functools
import random

import pytest

from service.config import RepoConfig, RepoConfigError, glob_matches, parse_repo_config

FULL = """\
# Where the handbook's docs go
version: 1
store: handbook_v2
include:
  - "docs/**/*.md"
  - "*.mdx"
exclude: [docs/drafts/]
chunk_size: 800
chunk_overlap: 100
max_file_size: 250000
"""


@pytest.mark.parametrize("content", [None, "", b"", "# nothing configured yet\n", "---\n"])
def test_a_missing_or_empty_file_means_the_defaults(content: str | bytes | None) -> None:
    config = parse_repo_config(content)

    assert config == RepoConfig()
    assert config.store == "docs"
    assert config.include == ("**/*.md", "**/*.mdx")
    assert config.exclude == ()
    assert (config.chunk_size, config.chunk_overlap, config.max_file_size) == (400, 50, 1_000_000)


def test_a_full_file_sets_every_key() -> None:
    config = parse_repo_config(FULL.encode())

    assert config == RepoConfig(
        store="handbook_v2",
        include=("docs/**/*.md", "*.mdx"),
        exclude=("docs/drafts/",),
        chunk_size=800,
        chunk_overlap=100,
        max_file_size=250_000,
    )
    assert config.includes("docs/guide/setup.md")
    assert config.includes("intro.mdx")
    assert not config.includes("docs/drafts/wip.md")
    assert not config.includes("README.md")


def test_a_config_is_immutable() -> None:
    config = parse_repo_config("store: docs\n")

    with pytest.raises(ValueError, match="frozen"):
        config.store = "other"  # type: ignore[misc]


ERRORS = [
    pytest.param("store: [\n", 2, "invalid YAML", id="yaml-unclosed-flow-list"),
    pytest.param("store: docs\n  chunk_size: 3\n", 2, "mapping values are not allowed", id="yaml"),
    pytest.param("store: docs\n\tchunk_size: 3\n", 2, "invalid YAML", id="yaml-tab"),
    pytest.param("- docs\n- api\n", 1, "must be a mapping", id="top-level-list"),
    pytest.param("just text\n", 1, "must be a mapping", id="top-level-scalar"),
    pytest.param("store: docs\nstorage: api\n", 2, "unknown key 'storage'", id="unknown-key"),
    pytest.param("store: a\nchunk_size: 400\nstore: b\n", 3, "store is set twice", id="dup"),
    pytest.param("version: 2\n", 1, "version must be 1 (got 2)", id="version"),
    pytest.param("store: My Docs\n", 1, "store must be 1 to 63 lowercase", id="store-name"),
    pytest.param("store: " + "a" * 64 + "\n", 1, "store must be 1 to 63", id="store-too-long"),
    pytest.param(
        "\n\nchunk_size: 10\n", 3, "chunk_size: input should be greater than or", id="low"
    ),
    pytest.param("chunk_size: 4001\n", 1, "chunk_size: input should be less than or", id="high"),
    pytest.param("chunk_size: '400'\n", 1, "chunk_size must be a whole number", id="quoted-int"),
    pytest.param("chunk_size: 400.5\n", 1, "chunk_size must be a whole number", id="float"),
    pytest.param("chunk_overlap: -1\n", 1, "chunk_overlap: input should be greater", id="neg"),
    pytest.param(
        "store: docs\nchunk_size: 400\n\nchunk_overlap: 400\n",
        4,
        "chunk_overlap must be less than chunk_size (400)",
        id="overlap",
    ),
    pytest.param(
        "store: docs\nchunk_size: 50\n",
        2,
        "chunk_overlap must be less than chunk_size (50) (the default chunk_overlap is 50)",
        id="default-overlap-blames-chunk-size",
    ),
    pytest.param("max_file_size: 0\n", 1, "max_file_size: input should be greater", id="size-0"),
    pytest.param("max_file_size: 10000001\n", 1, "max_file_size: input should be less", id="big"),
    pytest.param("include: '**/*.md'\n", 1, "include must be a list", id="include-string"),
    pytest.param("include:\n  - a.md\n  - 3\n", 3, "include item 2 must be text", id="item-type"),
    pytest.param(
        "exclude:\n  - drafts/\n  - 'docs/[ab.md'\n",
        3,
        "exclude item 2 is not a valid glob: 'docs/[ab.md' has an unclosed '['",
        id="bad-glob",
    ),
    pytest.param("exclude: ['a//b.md']\n", 1, "empty path segment", id="empty-segment"),
    pytest.param(
        "include: ['[z-a]*.md']\n", 1, "'[z-a]*.md' has bad character range z-a", id="range"
    ),
    pytest.param(
        "include: ['']\n", 1, "include item 1 is not a valid glob: '' is empty", id="empty"
    ),
    pytest.param("1: docs\n", 1, "1 is not a key name", id="numeric-key"),
    pytest.param(b"store: docs\nchunk_size: \xff\n", 2, "not UTF-8", id="not-utf8"),
    pytest.param(
        "x: &docs ['docs/**']\ninclude: *docs\n", 2, "aliases (*name) are not allowed", id="alias"
    ),
    pytest.param(
        # Ten levels of nine aliases each: 9**10 strings from 500 bytes, were it expanded.
        "".join(
            f"{name}: &{name} [{', '.join([f'*{prev}' if prev else 'lol'] * 9)}]\n"
            for prev, name in zip(["", *"abcdefghi"], "abcdefghij", strict=True)
        )
        + "include: *j\n",
        2,
        "aliases (*name) are not allowed",
        id="alias-bomb",
    ),
]


@pytest.mark.parametrize(("content", "line", "problem"), ERRORS)
def test_an_invalid_file_names_the_line_and_the_problem(
    content: str | bytes, line: int, problem: str
) -> None:
    with pytest.raises(RepoConfigError) as caught:
        parse_repo_config(content)

    assert caught.value.line == line
    assert str(caught.value).startswith(f"lightfast.yml line {line}: ")
    assert problem in str(caught.value)


def test_a_file_nested_too_deeply_to_parse_says_so() -> None:
    with pytest.raises(RepoConfigError) as caught:
        parse_repo_config("include: " + "[" * 5000 + "]" * 5000 + "\n")

    assert str(caught.value) == "lightfast.yml: lists or mappings are nested too deeply"


def test_every_problem_is_reported_starting_with_the_first_line() -> None:
    content = "chunk_size: 10\nstore: Docs\nbogus: 1\n"

    with pytest.raises(RepoConfigError) as caught:
        parse_repo_config(content)

    assert caught.value.line == 1
    message = str(caught.value)
    assert message.startswith("lightfast.yml line 1: chunk_size: ")
    assert "; line 2: store must be" in message
    assert "; line 3: unknown key 'bogus'" in message


def test_the_error_is_a_value_error_with_the_bare_problem() -> None:
    with pytest.raises(ValueError, match=r"^lightfast.yml line 1: version must be 1") as caught:
        parse_repo_config("version: 1.0\n")

    assert isinstance(caught.value, RepoConfigError)
    assert caught.value.problem == "version must be 1 (got 1.0)"


GLOBS = [
    # `**/` matches zero or more directories
    ("**/*.md", "README.md", True),
    ("**/*.md", "a/b/c.md", True),
    ("**/*.md", ".github/PULL_REQUEST_TEMPLATE.md", True),
    ("**/*.md", "a/b/c.mdx", False),
    ("**/*.md", "a/b/c.md.txt", False),
    ("**/*.md", "README.MD", False),
    ("**/*.mdx", "docs/page.mdx", True),
    ("**/*.mdx", "page.mdx", True),
    ("**/README.md", "README.md", True),
    ("**/README.md", "x/y/README.md", True),
    ("**/README.md", "xREADME.md", False),
    ("docs/**/*.md", "docs/a.md", True),
    ("docs/**/*.md", "docs/a/b/c.md", True),
    ("docs/**/*.md", "other/docs/a.md", False),
    ("a/**/b/*.md", "a/b/x.md", True),
    ("a/**/b/*.md", "a/x/y/b/x.md", True),
    # a trailing `/**` or `/` is everything inside
    ("docs/**", "docs/a/b/c.txt", True),
    ("docs/**", "docsx/a.md", False),
    ("docs/", "docs/drafts/wip.md", True),
    ("docs/", "docs", False),
    ("/docs/*.md", "docs/a.md", True),
    # `*` stays within one segment; patterns are anchored at the root
    ("*.md", "README.md", True),
    ("*.md", "docs/README.md", False),
    ("docs/*.md", "docs/a.md", True),
    ("docs/*.md", "docs/a/b.md", False),
    ("a/*/c.md", "a/b/c.md", True),
    ("a/*/c.md", "a/b/x/c.md", False),
    ("a*b.md", "a/b.md", False),
    ("a**b.md", "axxb.md", True),
    ("a**b.md", "a/b.md", False),
    # `?` is one character, never `/`
    ("?.md", "a.md", True),
    ("?.md", "ab.md", False),
    ("a?b.md", "a/b.md", False),
    # character classes
    ("[abc].md", "b.md", True),
    ("[abc].md", "d.md", False),
    ("[!abc].md", "d.md", True),
    ("[!abc].md", "a.md", False),
    ("[^abc].md", "a.md", False),
    ("[a-c]*.md", "c1.md", True),
    ("[a-c]*.md", "d1.md", False),
    ("a[!x]b.md", "a/b.md", False),
    ("[]]x.md", "]x.md", True),
    ("x[-a].md", "x-.md", True),
    # regex characters and escapes are literal
    ("docs/v1.0/*.md", "docs/v1.0/a.md", True),
    ("docs/v1.0/*.md", "docs/v1x0/a.md", False),
    ("(a)+.md", "(a)+.md", True),
    ("\\*.md", "*.md", True),
    ("\\*.md", "a.md", False),
    ("\\[a].md", "[a].md", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), GLOBS)
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert glob_matches(pattern, path) is expected


def _reference_match(pattern: str, path: str) -> bool:
    """The glob rules of service/config.py's docstring, by plain recursion over segments and
    characters (slow, but obviously right), for globs of `*`, `?`, `**` and letters."""

    @functools.cache
    def segment(p: str, s: str) -> bool:
        if not p:
            return not s
        if p[0] == "*":
            return any(segment(p[1:], s[i:]) for i in range(len(s) + 1))
        return bool(s) and (p[0] == "?" or p[0] == s[0]) and segment(p[1:], s[1:])

    @functools.cache
    def segments(ps: tuple[str, ...], ss: tuple[str, ...]) -> bool:
        if not ps:
            return not ss
        if ps[0] == "**":
            if len(ps) == 1:  # a trailing `**` matches everything inside the folder
                return bool(ss)
            return any(segments(ps[1:], ss[i:]) for i in range(len(ss) + 1))
        return bool(ss) and segment(ps[0], ss[0]) and segments(ps[1:], ss[1:])

    return segments(tuple(pattern.split("/")), tuple(path.split("/")))


def test_globs_match_as_the_rules_say_on_random_globs_and_paths() -> None:
    rng = random.Random(20261201)
    tokens = ["a", "b", "a", "*", "?", "/", "**/"]
    checked = 0
    for _ in range(3000):
        pattern = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 9))).strip("/")
        if (
            not pattern
            or "//" in pattern
            or any("**" in seg and seg != "**" for seg in pattern.split("/"))
        ):
            continue
        path = "/".join(
            "".join(rng.choice("ab") for _ in range(rng.randint(1, 4)))
            for _ in range(rng.randint(1, 4))
        )
        assert glob_matches(pattern, path) is _reference_match(pattern, path), (pattern, path)
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("**/*a*a*a*a*a*a*a*a*a*a*a*a*b.md", "docs/" + "a" * 200 + ".md"),
        ("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 300),
        ("**/a/**/a/**/a/**/a/**/a/**/b", "/".join(["a"] * 300)),
        ("**/**/**/**/**/**/**/**/x.md", "/".join(["d"] * 300) + "/y.md"),
    ],
)
def test_a_glob_built_to_backtrack_answers_at_once(pattern: str, path: str) -> None:
    # Each of these took minutes or more as a backtracking regex; the suite's timeout catches one.
    assert glob_matches(pattern, path) is False


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("README.md", True),
        ("docs/guide/setup.mdx", True),
        ("docs/drafts/wip.md", False),
        ("docs/drafts/deep/er.md", False),
        ("CHANGELOG.md", False),
        ("src/CHANGELOG.md", True),
        ("docs/image.png", False),
    ],
)
def test_exclude_beats_include(path: str, expected: bool) -> None:
    config = parse_repo_config("exclude:\n  - docs/drafts/**\n  - CHANGELOG.md\n")

    assert config.includes(path) is expected
