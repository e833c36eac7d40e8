"""Printing for people (aligned tables, one-line summaries) and for scripts (`--json`)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def print_json(data: object) -> None:
    """One JSON document on stdout and nothing else.

    `data` is JSON as the query API sent it, or models of it (dumped as the server does).
    """
    if "pydantic" in sys.modules:  # no model can exist before pydantic is imported
        from pydantic import BaseModel

        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        elif isinstance(data, list):
            data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def one_line(text: str) -> str:
    r"""`text` safe inside one line of output: line breaks and other controls escaped.

    A partition key may hold a newline (a dynamic key is any string); printed as it is,
    it would split one event's line in two. Text with a control character is shown as in
    a Python string literal (`a\nb`, backslashes doubled); other text as it is.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() and c != "\\" else repr(c)[1:-1] for c in text)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns padded to their widest cell; `-` for None."""
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    sys.stdout.write(line.rstrip() + "\n")
    for row in cells:
        sys.stdout.write(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )


def short_time(value: object) -> str:
    """An ISO time trimmed to seconds, for tables."""
    text = str(value) if value is not None else "-"
    return text.replace("T", " ")[:19]
