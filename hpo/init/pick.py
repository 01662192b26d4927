"""`Pick`: one value `hpo init` chose and why (the reason becomes the comment above it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Pick"]

T = TypeVar("T", int, float, str, tuple[int, ...])


@dataclass(frozen=True)
class Pick(Generic[T]):
    value: T
    reason: str
