"""Why a file's content is not indexed: each reason names what the file is."""

import pytest

from service.indexing import unreadable_reason

LFS = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 12345\n"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"# Guide\n\nText.\n", None),
        (b"\xef\xbb\xbf# With a BOM\n", None),
        (LFS, "a Git LFS pointer: the file's content is not in the repository"),
        ("# Guide\n".encode("utf-16"), "UTF-16 text: only UTF-8 is indexed"),
        (b"PNG\0\0\0", "binary file"),
        (b"caf\xe9\n", "not UTF-8 text (invalid byte at offset 3)"),
        (b"x" * 11, "11 bytes, over max_file_size (10)"),
    ],
)
def test_the_reason_a_file_is_not_indexed_names_what_it_is(
    content: bytes, reason: str | None
) -> None:
    assert unreadable_reason(content, max_size=10 if len(content) == 11 else 1_000) == reason
