"""`load_config`: read and validate a study file into a `StudyConfig`.

Relative paths (data folders, a SQLite file) are relative to the study file's folder, so a
study runs the same from any working directory.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from hpo.config.outputs import artifacts_section, export_section, tracking_section
from hpo.config.schema import (
    COSTS,
    FAMILIES,
    PRUNERS,
    SAMPLERS,
    STARTUPS,
    ConfigError,
    DataConfig,
    ModelConfig,
    PrunerConfig,
    SamplerConfig,
    StudyConfig,
    StudySection,
    TrainingConfig,
)
from hpo.config.space import DIMENSIONS, SearchSpace, dimensions_of
from hpo.config.table import Table, choices, penalty, value_range
from hpo.model.presets import PresetError, preset_trial_params
from hpo.model.space import BASELINE, baseline_mismatch

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["config_from_dict", "load_config"]

SECTIONS = ("study", "data", "model", "search", "sampler", "pruner", "training", "artifacts", "tracking", "export")
_BUILDER = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def _search(file: Path, table: Any) -> SearchSpace:
    """Each dimension read the way `hpo.config.space.DIMENSIONS` declares it."""
    t, default = Table(file, "search", table), SearchSpace()
    ranges: dict[str, Any] = {}
    for dim in DIMENSIONS.values():
        d = getattr(default, dim.name)
        if dim.choice and dim.kind is str:
            allowed = dim.limits
            ranges[dim.name] = choices(t, dim.name, d, str, allowed.__contains__, f"choose from {', '.join(allowed)}")
        elif dim.choice and dim.limits:
            lo, hi = dim.limits
            ranges[dim.name] = choices(
                t, dim.name, d, int, lambda v, lo=lo, hi=hi: lo <= v <= hi, f"must be {lo}..{hi}"
            )
        elif dim.choice:
            ranges[dim.name] = choices(t, dim.name, d, dim.kind)
        elif dim.switch:
            ranges[dim.name] = penalty(t, dim.name, d, *dim.limits)
        else:
            ranges[dim.name] = value_range(t, dim.name, d, *dim.limits, integer=dim.kind is int, log=dim.log)
    t.done()
    return SearchSpace(**ranges)


def _model(file: Path, table: Any) -> ModelConfig:
    t = Table(file, "model", table)
    builder = t.get("builder", str, None)
    family = t.choice("family", ModelConfig.family, FAMILIES)
    if builder is not None:
        if "family" in t.table:
            raise t.fail("family", "set family or builder, not both")
        if not _BUILDER.fullmatch(builder):
            raise t.fail("builder", f'expected "package.module:function", got {builder!r}')
    weights = t.choice("weights", ModelConfig.weights or "none", ("imagenet", "none"))
    input_size = t.number("input_size", ModelConfig.input_size, 32, 2048, integer=True)
    for key in ("weights", "input_size"):
        if key in t.table and (builder is not None or family == "cnn"):
            raise t.fail(key, f"only pretrained backbones use it (family = one of {', '.join(FAMILIES[1:])})")
    t.done()
    return ModelConfig(family, builder, None if weights == "none" else weights, input_size)


def _check_family_keys(file: Path, table: Any, model: ModelConfig) -> None:
    """A [search] key the model family never suggests is an error, not silently ignored."""
    kind = "recipe" if model.builder is not None else "cnn" if model.family == "cnn" else "backbone"
    used = {d.name for d in dimensions_of(kind)}
    unused = [k for k in table if k not in used]
    if unused:
        raise ConfigError(f"{file}: [search] {unused[0]}: not used by [model] {model.name}")


def _objectives(s: Table) -> tuple[str, ...]:
    raw = s.get("objectives", list, list(StudySection.objectives))
    ok = raw[:1] == ["val_accuracy"] and len(raw) <= 2 and all(x in COSTS for x in raw[1:])
    if not ok:
        raise s.fail("objectives", f'use ["val_accuracy"] or ["val_accuracy", one of {", ".join(COSTS)}], got {raw!r}')
    return tuple(raw)


def _presets(file: Path, raw: list[Any], search: SearchSpace, model: ModelConfig) -> tuple[dict[str, Any], ...]:
    """``[[study.enqueue]]`` tables as Optuna params, each value checked against ``search``."""
    if raw and model.builder is not None:
        raise ConfigError(f"{file}: [[study.enqueue]]: presets name hpo's search dimensions; a builder has its own")
    presets = []
    for i, table in enumerate(raw, start=1):
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: [study] enqueue: expected [[study.enqueue]] tables, got {table!r}")
        try:
            presets.append(preset_trial_params(search, model.family, table))
        except PresetError as exc:
            raise ConfigError(f"{file}: [[study.enqueue]] #{i} {exc.key}: {exc.problem}") from None
    return tuple(presets)


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _storage_url(base: Path, raw: str | None, name: str) -> str:
    if raw is None:
        return f"sqlite:///{base / f'{name}.db'}"
    if raw.startswith("sqlite:///") and not raw.startswith("sqlite:////"):
        return f"sqlite:///{_resolve(base, raw[len('sqlite:///') :])}"
    return raw


def load_config(path: Path | str) -> StudyConfig:
    """Read and validate a study file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"study file not found: {file}")
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8-sig"))  # -sig: a BOM (Notepad's "UTF-8 with BOM") is dropped
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(
            f"{file}: arrays or tables nested too deeply (hundreds of levels) — "
            "no study setting nests more than a few; check the file"
        ) from None
    return config_from_dict(doc, file)


def config_from_dict(doc: dict[str, Any], path: Path, label: str | None = None) -> StudyConfig:
    """Validate a study given as TOML-like tables (what a study file holds). ``path``: where
    its file is or would be (relative paths and the default SQLite file are beside it);
    ``label``: how errors name it when there is no file (default: ``path``)."""
    file = Path(label) if label else path
    base = path.resolve().parent
    top = Table(file, "top level", doc)
    for section in SECTIONS:
        top.get(section, dict, {})
    top.done()
    model = _model(file, doc.get("model", {}))

    s = Table(file, "study", doc.get("study", {}))
    presets = s.get("enqueue", list, [])  # checked against [search] once it is read
    name = s.get("name", str, path.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise s.fail("name", f"use letters, digits, '_', '.', '-', got {name!r}")
    study = StudySection(
        name=name,
        storage=_storage_url(base, s.get("storage", str, None), name),
        n_trials=s.number("n_trials", StudySection.n_trials, 1, 1_000_000, integer=True),
        timeout=s.number("timeout", StudySection.timeout, 1, 1e9),
        seed=s.number("seed", StudySection.seed, 0, 2**31 - 1, integer=True),
        enqueue_baseline=s.get("enqueue_baseline", bool, StudySection.enqueue_baseline and model.name == "cnn"),
        objectives=_objectives(s),
        max_train_val_gap=s.number("max_train_val_gap", StudySection.max_train_val_gap, 0.0, 1.0),
        heartbeat_interval=s.number("heartbeat_interval", StudySection.heartbeat_interval, 1, 86_400, integer=True),
        grace_period=s.number("grace_period", StudySection.grace_period, 2, 864_000, integer=True),
        max_retry=s.number("max_retry", StudySection.max_retry, 0, 1000, integer=True),
    )
    s.done()

    dt = Table(file, "data", doc.get("data", {}))
    size = dt.number("image_size", DataConfig.image_size, 8, 1024, integer=True)
    source = dt.get("source", str, None)
    data = DataConfig(
        source=_resolve(base, source) if source is not None else None,
        prepared=_resolve(base, dt.get("prepared", str, f"{name}/prepared-{size}px")),
        image_size=size,
        val=dt.number("val", DataConfig.val, 0.0, 0.9),
        test=dt.number("test", DataConfig.test, 0.0, 0.9),
    )
    if data.val <= 0:
        raise dt.fail("val", "the search needs a validation split (> 0)")
    dt.done()

    sp = Table(file, "sampler", doc.get("sampler", {}))
    sampler = SamplerConfig(
        sp.choice("type", SamplerConfig.type, SAMPLERS),
        sp.number("n_startup_trials", SamplerConfig.n_startup_trials, 0, 10_000, integer=True),
        sp.choice("startup", SamplerConfig.startup, STARTUPS),
    )
    sp.done()

    pr = Table(file, "pruner", doc.get("pruner", {}))
    pruner = PrunerConfig(
        type=pr.choice("type", PrunerConfig.type, PRUNERS),
        min_resource=pr.number("min_resource", PrunerConfig.min_resource, 1, 10_000, integer=True),
        reduction_factor=pr.number("reduction_factor", PrunerConfig.reduction_factor, 2, 100, integer=True),
        bootstrap_count=pr.number("bootstrap_count", PrunerConfig.bootstrap_count, 0, 10_000, integer=True),
        n_warmup_steps=pr.number("n_warmup_steps", PrunerConfig.n_warmup_steps, 0, 10_000, integer=True),
    )
    pr.done()

    tr = Table(file, "training", doc.get("training", {}))
    training = TrainingConfig(
        max_epochs=tr.number("max_epochs", TrainingConfig.max_epochs, 1, 10_000, integer=True),
        early_stopping_patience=tr.number(
            "early_stopping_patience", TrainingConfig.early_stopping_patience, 0, 10_000, integer=True
        ),
        eval_batch_size=tr.number("eval_batch_size", TrainingConfig.eval_batch_size, 1, 65536, integer=True),
        bn_calibration_images=tr.number(
            "bn_calibration_images", TrainingConfig.bn_calibration_images, 0, 1_000_000, integer=True
        ),
        mixed_precision=tr.get("mixed_precision", bool, TrainingConfig.mixed_precision),
    )
    tr.done()

    if model.family != "cnn" and model.builder is None and (model.input_size or data.image_size) < 32:
        raise dt.fail(
            "image_size", f"{model.family} needs images of 32 px or more — set [model] input_size = 32 or more"
        )
    search = _search(file, doc.get("search", {}))
    _check_family_keys(file, doc.get("search", {}), model)
    if study.enqueue_baseline and model.name != "cnn":
        raise s.fail("enqueue_baseline", f"the baseline preset is hpo's CNN, not [model] {model.name} — remove it")
    if len(study.objectives) > 1 and pruner.type != "none":
        raise pr.fail(
            "type",
            'Optuna cannot prune multi-objective studies — set type = "none" and use [training] '
            "early_stopping_patience instead",
        )
    if study.grace_period <= study.heartbeat_interval:
        raise s.fail(
            "grace_period", f"must exceed heartbeat_interval ({study.heartbeat_interval}), got {study.grace_period}"
        )
    if study.enqueue_baseline and (bad := baseline_mismatch(search)):
        raise ConfigError(
            f"{file}: [search] {bad}: excludes the baseline's value "
            f"{getattr(BASELINE, bad)!r} — widen it or set [study] enqueue_baseline = false"
        )
    study = replace(study, enqueue=_presets(file, presets, search, model))
    artifacts = artifacts_section(file, base, name, doc.get("artifacts", {}))
    tracking = tracking_section(file, base, doc.get("tracking", {}))
    return StudyConfig(
        path=path, study=study, data=data, search=search, model=model, sampler=sampler, pruner=pruner,
        training=training, artifacts=artifacts, tracking=tracking, export=export_section(file, doc.get("export", {})),
    )  # fmt: skip
