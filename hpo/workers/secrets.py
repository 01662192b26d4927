"""No secret in anything hpo prints: `mask` is the one masking function.

Every password `hpo.workers.url.parse_url` finds in a storage URL (as written and
percent-decoded, and the value of a ``?password=`` / ``token`` / ``secret`` query key) is
remembered, and `mask` replaces it *wherever it appears*: in the URL, in a driver's or
SQLAlchemy's message ('database "…" does not exist'), in a traceback. A password shorter than
`MIN_TEXT_SECRET` characters is masked in URLs only (replacing every "pw" in every line would
garble the output and protect nothing: such a password is guessed in no time). URLs hpo never
parsed are masked by their shape (``user:***@``, ``?password=***``). `mask_output` routes the log
lines and tracebacks of a CLI process through `mask`; hpo's own messages call it directly.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from types import TracebackType

__all__ = ["MIN_TEXT_SECRET", "mask", "mask_output", "remember"]

HIDDEN = "***"
MIN_TEXT_SECRET = 4
_known: set[str] = set()
#: ``scheme://user:secret@`` (a raw ``@`` inside the password: the host is after the last ``@``)
_USERINFO = re.compile(r"(\w[\w+.-]*://)([^/\s?#]*)@")
_QUERY_SECRET = re.compile(r"([?&](?:[\w.-]*(?:pass|pwd|secret|token)[\w.-]*)=)[^&\s#]*", re.IGNORECASE)


def remember(*secrets: str) -> None:
    """Mask these strings from now on, wherever they appear."""
    _known.update(s for s in secrets if len(s) >= MIN_TEXT_SECRET)


def mask(text: str) -> str:
    """``text`` with every remembered secret and every URL password replaced by ``***``."""
    for secret in sorted(_known, key=len, reverse=True):  # a longer form first: "p%40ss" before "p"
        text = text.replace(secret, HIDDEN)
    text = _USERINFO.sub(
        lambda m: m.group(1) + (m.group(2).split(":", 1)[0] + ":" + HIDDEN if ":" in m.group(2) else m.group(2)) + "@",
        text,
    )
    return _QUERY_SECRET.sub(rf"\1{HIDDEN}", text)


class _Masked(logging.Formatter):
    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return mask(self.inner.format(record))


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    sys.stderr.write(mask("".join(traceback.format_exception(kind, exc, tb))))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    lines = traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
    sys.stderr.write(mask(f"Exception in thread {name}:\n" + "".join(lines)))


def mask_output() -> None:
    """Route this process's log lines (the root logger's handlers) and uncaught tracebacks
    (main thread and others) through `mask`. For the CLI; a library leaves hooks alone."""
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, _Masked):
            handler.setFormatter(_Masked(handler.formatter))
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
