"""One JSON object of an export's file (``metrics.json``), read key by key into typed values: a
wrong or missing value is a one-line `ModelFileError` naming the file and the full key path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hpo.errors import ModelFileError

__all__ = ["AGAIN", "Reader"]

AGAIN = "export the model again"


def _shown(value: Any) -> str:
    """A JSON value in words, short enough for a one-line message."""
    if value is None:
        return "null"
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}
    text = repr(value)
    return f"{kind.get(type(value), type(value).__name__)} ({text[:40] + '...' if len(text) > 40 else text})"


@dataclass(frozen=True)
class Reader:
    """One JSON object of ``source``, read key by key; ``at``: its key path (``test.per_class[2]``).

    Every wrong value is a `ModelFileError` naming ``source`` and the full key."""

    source: str
    obj: Mapping[str, Any]
    at: str = ""

    @classmethod
    def of(cls, source: str, value: Any, at: str = "") -> Reader:
        if not isinstance(value, dict):
            where = repr(at) if at else "the top level"
            raise ModelFileError(f"{source}: {where} is {_shown(value)}, not a JSON object — {AGAIN}")
        return cls(source, value, at)

    def key(self, name: str) -> str:
        return f"{self.at}.{name}" if self.at else name

    def wrong(self, key: str, value: Any, wanted: str) -> ModelFileError:
        return ModelFileError(f"{self.source}: {key!r} is {_shown(value)}, not {wanted} — {AGAIN}")

    def raw(self, name: str) -> Any:
        if name not in self.obj:
            raise ModelFileError(f"{self.source} lacks the key {self.key(name)!r} — {AGAIN}")
        return self.obj[name]

    def integer(self, name: str) -> int:
        value = self.raw(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong(self.key(name), value, "an integer")
        return value

    def number(self, name: str) -> float:
        value = self.raw(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.wrong(self.key(name), value, "a number")
        return float(value)

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str):
            raise self.wrong(self.key(name), value, "a string")
        return value

    def flag(self, name: str) -> bool:
        value = self.raw(name)
        if not isinstance(value, bool):
            raise self.wrong(self.key(name), value, "true or false")
        return value

    def child(self, name: str) -> Reader:
        return Reader.of(self.source, self.raw(name), self.key(name))

    def items(self, name: str) -> list[Any]:
        value = self.raw(name)
        if not isinstance(value, list):
            raise self.wrong(self.key(name), value, "a list")
        return value

    def counts(self, name: str) -> dict[str, int]:
        """An object of integers (``split_sizes``)."""
        sub = self.child(name)
        return {k: sub.integer(k) for k in sub.obj}
