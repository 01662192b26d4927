"""A storage URL, parsed once: `parse_url` turns the string into a `StorageUrl` (its kind, the
URL masked for display, the SQLite file when it is one), which the storage, the slot lock,
outage handling, the dashboard and the launcher take instead of re-reading the string.

Parsing refuses, in one line, what a driver would misread: a password holding an unescaped
``@ / # ? { }`` or a space (SQLAlchemy would take part of it for the host and the driver would
print it: "failed to resolve host 'cret@127.0.0.1'"), and a port that is not a number. The
password and the secrets of the query string are handed to `hpo.workers.secrets`, so
nothing hpo prints shows them, whatever the form.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, unquote_plus

from hpo.errors import StorageError
from hpo.workers.secrets import HIDDEN, mask, remember

__all__ = ["STORAGE_ENV", "StorageUrl", "parse_url", "storage_override"]

#: Every command that takes ``--storage`` falls back to this variable, so a password need not
#: be on a command line (``ps``) or in a study file. Optuna's own ``OPTUNA_STORAGE`` works too.
STORAGE_ENV = "HPO_STORAGE_URL"
STORAGE_ENVS = (STORAGE_ENV, "OPTUNA_STORAGE")

Kind = Literal["sqlite", "postgres", "grpc", "other"]
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_POSTGRES = re.compile(r"postgres(ql)?(\+\w+)?", re.IGNORECASE)
_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?")
_QUERY_SECRET_KEY = re.compile(r"pass|pwd|secret|token", re.IGNORECASE)
_ENCODE = {"@": "%40", "/": "%2F", "#": "%23", "?": "%3F", " ": "%20", "{": "%7B", "}": "%7D"}
_HOW = (
    "percent-encode it: "
    + ", ".join(f"'{c}' -> {e}" for c, e in _ENCODE.items())
    + """ (python3 -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=''))" 'PASSWORD')"""
)


@dataclass(frozen=True)
class StorageUrl:
    """A parsed storage URL. ``url`` (with its password) is for the driver only; show ``shown``
    (also what ``str()`` gives)."""

    url: str = field(repr=False)
    kind: Kind
    shown: str
    path: Path | None = None  # the database file of a ``sqlite:///`` URL
    address: tuple[str, int] | None = None  # host and port of a ``grpc://`` URL (`hpo proxy`)

    @property
    def local(self) -> bool:
        """Whether the study lives in a file on this machine (SQLite) rather than on a server."""
        return self.path is not None

    def __str__(self) -> str:
        return self.shown


def _userinfo(rest: str) -> tuple[str | None, str | None, str]:
    """``user``, ``password`` (None when absent) and what follows the ``@``. The password
    ends at the last ``@`` (a raw ``@`` inside it is then seen, and refused); when what comes
    before that ``@`` cannot be a user name (an ``@`` in the query), at the first one."""
    for at in dict.fromkeys((rest.rfind("@"), rest.find("@"))):
        if at < 0:
            break
        user, colon, password = rest[:at].partition(":")
        if not re.search(r"[/?#@\s]", user):
            return user, (password if colon else None), rest[at + 1 :]
    return None, None, rest


def _where(source: str) -> str:
    return f" ({source})" if source else ""


def parse_url(url: str, source: str = "") -> StorageUrl:
    """The `StorageUrl` of ``url``; a `StorageError` (one line, exit 2) for a password with
    unescaped delimiters or a bad port. ``source`` names where the URL came from."""
    scheme = _SCHEME.match(url)
    if url.startswith("sqlite:///"):
        return StorageUrl(url, "sqlite", url, Path(url[len("sqlite:///") :]))
    if scheme is None:
        return StorageUrl(url, "other", mask(url))
    user, password, after = _userinfo(url[scheme.end() :])
    query = after.partition("?")[2].partition("#")[0]
    secrets = [v for k, _, v in (p.partition("=") for p in query.split("&")) if _QUERY_SECRET_KEY.search(k)]
    remember(*secrets, *map(unquote_plus, secrets))
    credentials = "" if user is None else user + ("" if password is None else f":{HIDDEN}") + "@"
    shown = mask(f"{scheme.group(0)}{credentials}{after}")
    if password:
        remember(password, unquote(password))
        unsafe = [c for c in _ENCODE if c in password] + sorted({c for c in password if c.isspace()} - {" "})
        if unsafe:
            chars = ", ".join(repr(c) for c in unsafe)
            raise StorageError(f"the password in storage URL {shown}{_where(source)} holds {chars} unescaped — {_HOW}")
    port = _HOST_PORT.match(after)
    number = port.group(2) if port is not None else None
    if number and not (number.isdigit() and 0 < int(number) < 65536):
        where = _where(source)
        raise StorageError(f"port {number!r} in storage URL {shown}{where} is not a number 1-65535 — fix the URL")
    if scheme.group(1).lower() == "grpc":
        return _grpc_url(url, shown, port, source)
    kind: Kind = "postgres" if _POSTGRES.fullmatch(scheme.group(1)) else "other"
    return StorageUrl(url, kind, shown)


def _grpc_url(url: str, shown: str, host_port: re.Match[str] | None, source: str) -> StorageUrl:
    """``grpc://host:port``: workers reaching the study through `hpo proxy` (the port is needed)."""
    host = host_port.group(1).strip("[]") if host_port is not None else ""
    number = host_port.group(2) if host_port is not None else None
    if not host or not number:
        raise StorageError(f"storage URL {shown}{_where(source)} needs a host and a port — grpc://HOST:PORT")
    return StorageUrl(url, "grpc", shown, address=(host, int(number)))


def storage_override(value: str | None, flag: str = "--storage") -> str | None:
    """The storage a command uses instead of its study file's: ``value`` (given as ``flag``),
    else ``$HPO_STORAGE_URL``, else ``$OPTUNA_STORAGE``, else None (the file's). Checked
    here, before any work, naming where it came from."""
    found = [(flag, value)] + [(f"${v}", os.environ.get(v)) for v in STORAGE_ENVS]
    source, url = next(((s, u) for s, u in found if u), ("", None))
    if url is not None:
        parse_url(url, source)
    return url
