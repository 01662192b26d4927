"""Write small study files for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY: dict[str, dict[str, Any]] = {
    "study": {"n_trials": 6, "seed": 0},
    "data": {"image_size": 16, "val": 0.25, "test": 0.15},
    "search": {
        "learning_rate": [1e-4, 3e-2],
        "batch_size": [16, 32],
        "depth": [1, 2],
        "base_filters": [8, 16, 32],
        "dense_units": [32, 128],
    },
    "sampler": {"n_startup_trials": 3},
    "pruner": {"type": "hyperband", "min_resource": 1, "reduction_factor": 3},
    "training": {"max_epochs": 6},
}


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def write_study(folder: Path, name: str, source: Path, **sections: dict[str, Any]) -> Path:
    """``folder/name.toml`` from `TINY`, with per-section keys overridden (None deletes)."""
    doc = {k: dict(v) for k, v in TINY.items()}
    doc["study"]["name"] = name
    doc["data"]["source"] = str(source)
    for section, values in sections.items():
        table = doc.setdefault(section, {})
        for key, value in values.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    text = "\n".join(
        f"[{section}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
        for section, table in doc.items()
    )
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path
