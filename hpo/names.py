"""How hpo prints a name it did not choose (a file, a folder, a class label, a link target).

A file name may hold a newline, which would forge a line of output (``hpo: error: ...``), or
an ANSI escape, which a terminal obeys. `shown` prints such a name as Python's ``repr`` does
(quoted, each control character escaped: ``'x\\n\\x1b[2J.jpg'``) and any other name as it is.
"""

from __future__ import annotations

import os

__all__ = ["one_line", "shown"]


def shown(name: str | os.PathLike[str]) -> str:
    """``name`` as it is when every character is printable, else its ``repr``: one line, no
    control character, and unambiguous (a backslash in the name is doubled)."""
    text = os.fspath(name)
    return text if text.isprintable() else repr(text)


def one_line(text: str) -> str:
    """``text`` (a message that may quote names) on one line: line breaks become spaces, other
    control characters their escapes (``\\x1b``), the rest unchanged."""
    text = " ".join(text.splitlines())
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
