"""Strict, typed reading of TOML tables: every error names the file, section and key."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hpo.config.schema import ConfigError
from hpo.config.space import Choice, FloatRange, IntRange

__all__ = ["Table", "choices", "penalty", "value_range"]


class Table:
    """Typed, strict access to one TOML table; `done()` rejects keys nobody asked for."""

    def __init__(self, file: Path, name: str, table: Any) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: [{name}] must be a table")
        self.file, self.name, self.table = file, name, table
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: [{self.name}] {key}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise self.fail(key, "is required")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"expected {_kind_name(kinds)}, got {value!r}")
        if float in kinds and int not in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds):
            raise self.fail(key, f"expected {_kind_name(kinds)}, got {value!r}")
        return value

    def number(self, key: str, default: Any, lo: float, hi: float, *, integer: bool = False) -> Any:
        value = self.get(key, int if integer else float, default)
        if value is not None and not (lo <= value <= hi and math.isfinite(value)):
            raise self.fail(key, f"must be between {lo:g} and {hi:g}, got {value!r}")
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.get(key, str, default)
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
        return str(value)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true/false",
        list: "a list",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def value_range(
    t: Table,
    key: str,
    default: Any,
    lo: float,
    hi: float,
    *,
    integer: bool = False,
    log: bool = False,
) -> Any:
    raw = t.get(key, (list, int, float), default)
    if isinstance(raw, (FloatRange, IntRange)):
        return raw
    pair = raw if isinstance(raw, list) else [raw, raw]
    if len(pair) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair):
        raise t.fail(key, f"expected [min, max] or a single number, got {raw!r}")
    if integer and not all(isinstance(v, int) for v in pair):
        raise t.fail(key, f"expected whole numbers, got {raw!r}")
    low, high = pair
    if low > high:
        raise t.fail(key, f"min {low!r} > max {high!r}")
    if not (lo <= low and high <= hi) or (log and low <= 0):
        raise t.fail(key, f"must lie within [{lo:g}, {hi:g}]{' and be > 0' if log else ''}, got {raw!r}")
    return IntRange(low, high) if integer else FloatRange(float(low), float(high), log=log)


def penalty(t: Table, key: str, default: FloatRange | None, lo: float, hi: float) -> FloatRange | None:
    """A range that may also be switched off for good (0 or false)."""
    raw = t.table.get(key, default)
    if raw is False or raw == 0 or raw is None:
        t.used.add(key)
        return None
    return value_range(t, key, default, lo, hi, log=True)  # type: ignore[no-any-return]


def choices(t: Table, key: str, default: Choice, kind: type, check: Any = None, why: str = "") -> Choice:
    raw = t.get(key, (list, kind), default)
    if isinstance(raw, Choice):
        return raw
    options = raw if isinstance(raw, list) else [raw]
    if not options:
        raise t.fail(key, "needs at least one value")
    for v in options:
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise t.fail(key, f"expected {_kind_name((kind,))} values, got {v!r}")
        if check is not None and not check(v):
            raise t.fail(key, f"{why}, got {v!r}")
    return Choice(tuple(options))
