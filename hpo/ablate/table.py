"""An ablation path as people and programs read it: rows (step, changed setting, val mean ±
spread, gain), the terminal table, JSON lines, and the settings that carried most of the gain
(the report's waterfall and the export's model card use the same rows)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from hpo.ablate.path import Path, settings
from hpo.ablate.store import Plan

__all__ = ["Row", "format_table", "json_lines", "rows", "top_settings"]


def _value(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class Row:
    step: int
    setting: str  # "" for step 0
    change: str  # "dropout 0.5 → 0.135", or the source's label for step 0
    values: tuple[float | None, ...]
    mean: float
    spread: float  # NaN with one seed
    gain: float  # NaN for step 0

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "setting": self.setting or None, "change": self.change, "values": list(self.values),
                "mean": _num(self.mean), "spread": _num(self.spread), "gain": _num(self.gain)}  # fmt: skip


def _change(plan: Plan, params: tuple[str, ...]) -> str:
    src, dst = plan.source_params, plan.target_params
    parts = [f"{p} {_value(src[p]) if p in src else '—'} → {_value(dst[p]) if p in dst else '—'}" for p in params]
    return ", ".join(parts)


def rows(plan: Plan, path: Path) -> list[Row]:
    """One row per measured step."""
    groups = settings(plan.source_params, plan.target_params)
    out = []
    for i, step in enumerate(path.steps):
        name = step.changed or ""
        change = _change(plan, groups[name]) if name else f"(source: {plan.source})"
        out.append(Row(step.number, name, change, step.values, step.mean, step.spread, path.gain(i)))
    return out


def _pct(v: float, signed: bool = False) -> str:
    if math.isnan(v):
        return "-"
    return f"{100 * v:+.1f} pt" if signed else f"{v:.4f}"


def format_table(plan: Plan, path: Path) -> str:
    """The terminal table (a Markdown table, so it pastes into notes as it is)."""
    lines = ["| step | changed setting(s) | val accuracy (mean ± sd) | gain |", "|---|---|---|---|"]
    for r in rows(plan, path):
        spread = "" if math.isnan(r.spread) else f" ± {r.spread:.4f}"
        lines.append(f"| {r.step} | {r.change} | {_pct(r.mean)}{spread} | {_pct(r.gain, signed=True)} |")
    seeds = ", ".join(map(str, plan.seeds))
    lines.append(f"\n{len(plan.seeds)} seed(s) per configuration ({seeds}), {plan.epochs} epochs max; "
                 f"target: trial {plan.target}.")  # fmt: skip
    return "\n".join(lines)


def json_lines(plan: Plan, path: Path) -> list[str]:
    """One JSON object per step, then one for the whole path."""
    out = [json.dumps(r.to_json()) for r in rows(plan, path)]
    head = {"source": plan.source, "target": plan.target, "seeds": plan.seeds, "epochs": plan.epochs,
            "steps": len(path.steps), "complete": path.complete}  # fmt: skip
    return [*out, json.dumps(head)]


def top_settings(plan: Plan, path: Path, n: int = 3) -> list[Row]:
    """The ``n`` steps that gained most (positive gains only), largest first."""
    gains = [r for r in rows(plan, path)[1:] if not math.isnan(r.gain) and r.gain > 0]
    return sorted(gains, key=lambda r: -r.gain)[:n]
