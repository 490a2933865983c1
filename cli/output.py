"""What commands print: JSON for scripts, aligned tables for people."""

import json
import re
import shutil
import sys
from collections.abc import Sequence
from typing import Any

import click

MIN_LAST_COLUMN = 20
GAP = "  "
# C0 and C1 control characters: a line end or a tab in a path would break the table's rows, and
# an escape sequence would talk to the terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, fit: bool = True) -> str:
    """Columns as wide as their widest cell.

    With `fit`, the last column is cut to the terminal's width; a pipe wants whole lines.
    """
    columns = list(zip(headers, *rows, strict=True))
    widths = [max(len(cell) for cell in column) for column in columns[:-1]]
    room = sys.maxsize
    if fit:
        free = shutil.get_terminal_size().columns - sum(widths) - len(GAP) * len(widths)
        room = max(MIN_LAST_COLUMN, free)
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        last = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        lines.append(GAP.join([*cells, last]).rstrip())
    return "\n".join(lines)


def printable(text: str) -> str:
    """`text` on one line, each control character written as its escape (`\\n`, `\\x1b`)."""
    return _CONTROL.sub(lambda found: found[0].encode("unicode_escape").decode("ascii"), text)
