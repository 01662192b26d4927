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

from hpo.config.schema import (
    COSTS,
    FAMILIES,
    PRUNERS,
    SAMPLERS,
    ConfigError,
    DataConfig,
    ModelConfig,
    PrunerConfig,
    SamplerConfig,
    StudyConfig,
    StudySection,
    TrainingConfig,
)
from hpo.config.table import Table, choices, penalty, value_range
from hpo.model.presets import PresetError, preset_trial_params
from hpo.model.space import (
    BACKBONE_ONLY,
    BASELINE,
    CNN_ONLY,
    HEADS,
    LR_DECAYS,
    OPTIMIZERS,
    RECIPE,
    Choice,
    SearchSpace,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["config_from_dict", "load_config"]

SECTIONS = ("study", "data", "model", "search", "sampler", "pruner", "training")
_BUILDER = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def _search(file: Path, table: Any) -> SearchSpace:
    t, d = Table(file, "search", table), SearchSpace()

    def one_of(key: str, allowed: tuple[str, ...]) -> Choice:
        return choices(t, key, getattr(d, key), str, allowed.__contains__, f"choose from {', '.join(allowed)}")

    def counts(key: str, high: int, what: str) -> Choice:
        return choices(t, key, getattr(d, key), int, lambda v: 1 <= v <= high, f"{what} must be 1..{high}")

    space = SearchSpace(
        learning_rate=value_range(t, "learning_rate", d.learning_rate, 1e-7, 10.0, log=True),
        batch_size=counts("batch_size", 65536, "batch sizes"),
        l1=penalty(t, "l1", d.l1),
        l2=penalty(t, "l2", d.l2),
        dropout=value_range(t, "dropout", d.dropout, 0.0, 0.95),
        depth=value_range(t, "depth", d.depth, 1, 8, integer=True),
        base_filters=counts("base_filters", 512, "filters"),
        convs=value_range(t, "convs", d.convs, 1, 4, integer=True),
        residual=choices(t, "residual", d.residual, bool),
        dense_units=counts("dense_units", 8192, "units"),
        batch_norm=choices(t, "batch_norm", d.batch_norm, bool),
        optimizer=one_of("optimizer", OPTIMIZERS),
        lr_decay=one_of("lr_decay", LR_DECAYS),
        flip=choices(t, "flip", d.flip, bool),
        crop=value_range(t, "crop", d.crop, 0, 16, integer=True),
        augment=value_range(t, "augment", d.augment, 0.0, 1.0),
        head=one_of("head", HEADS),
        weight_decay=value_range(t, "weight_decay", d.weight_decay, 1e-8, 1.0, log=True),
        label_smoothing=value_range(t, "label_smoothing", d.label_smoothing, 0.0, 0.5),
        fine_tune_layers=value_range(t, "fine_tune_layers", d.fine_tune_layers, 0, 10_000, integer=True),
        backbone_lr_scale=value_range(t, "backbone_lr_scale", d.backbone_lr_scale, 1e-6, 10.0, log=True),
    )
    t.done()
    return space


def _model(file: Path, table: Any) -> ModelConfig:
    t = Table(file, "model", table)
    builder = t.get("builder", str, None)
    family = t.choice("family", "cnn", FAMILIES)
    if builder is not None:
        if "family" in t.table:
            raise t.fail("family", "set family or builder, not both")
        if not _BUILDER.fullmatch(builder):
            raise t.fail("builder", f'expected "package.module:function", got {builder!r}')
    weights = t.choice("weights", "imagenet", ("imagenet", "none"))
    input_size = t.number("input_size", None, 32, 2048, integer=True)
    for key in ("weights", "input_size"):
        if key in t.table and (builder is not None or family == "cnn"):
            raise t.fail(key, f"only pretrained backbones use it (family = one of {', '.join(FAMILIES[1:])})")
    t.done()
    return ModelConfig(family, builder, None if weights == "none" else weights, input_size)


def _check_family_keys(file: Path, table: Any, model: ModelConfig) -> None:
    """A [search] key the model family never suggests is an error, not silently ignored."""
    if model.builder is not None:
        unused = [k for k in table if k not in ("batch_size", *RECIPE)]
    elif model.family == "cnn":
        unused = [k for k in table if k in BACKBONE_ONLY]
    else:
        unused = [k for k in table if k in CNN_ONLY]
    if unused:
        raise ConfigError(f"{file}: [search] {unused[0]}: not used by [model] {model.name}")


def _objectives(s: Table) -> tuple[str, ...]:
    raw = s.get("objectives", list, ["val_accuracy"])
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
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
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
        n_trials=s.number("n_trials", 20, 1, 1_000_000, integer=True),
        timeout=s.number("timeout", None, 1, 1e9),
        seed=s.number("seed", 0, 0, 2**31 - 1, integer=True),
        enqueue_baseline=s.get("enqueue_baseline", bool, model.name == "cnn"),
        objectives=_objectives(s),
        max_train_val_gap=s.number("max_train_val_gap", None, 0.0, 1.0),
        heartbeat_interval=s.number("heartbeat_interval", 30, 1, 86_400, integer=True),
        grace_period=s.number("grace_period", 120, 2, 864_000, integer=True),
        max_retry=s.number("max_retry", 3, 0, 1000, integer=True),
    )
    s.done()

    dt = Table(file, "data", doc.get("data", {}))
    size = dt.number("image_size", 64, 8, 1024, integer=True)
    source = dt.get("source", str, None)
    data = DataConfig(
        source=_resolve(base, source) if source is not None else None,
        prepared=_resolve(base, dt.get("prepared", str, f"{name}/prepared-{size}px")),
        image_size=size,
        val=dt.number("val", 0.15, 0.0, 0.9),
        test=dt.number("test", 0.15, 0.0, 0.9),
    )
    if data.val <= 0:
        raise dt.fail("val", "the search needs a validation split (> 0)")
    dt.done()

    sp = Table(file, "sampler", doc.get("sampler", {}))
    sampler = SamplerConfig(
        sp.choice("type", "tpe", SAMPLERS),
        sp.number("n_startup_trials", 10, 0, 10_000, integer=True),
    )
    sp.done()

    pr = Table(file, "pruner", doc.get("pruner", {}))
    pruner = PrunerConfig(
        type=pr.choice("type", "hyperband", PRUNERS),
        min_resource=pr.number("min_resource", 1, 1, 10_000, integer=True),
        reduction_factor=pr.number("reduction_factor", 3, 2, 100, integer=True),
        bootstrap_count=pr.number("bootstrap_count", 0, 0, 10_000, integer=True),
        n_warmup_steps=pr.number("n_warmup_steps", 2, 0, 10_000, integer=True),
    )
    pr.done()

    tr = Table(file, "training", doc.get("training", {}))
    training = TrainingConfig(
        max_epochs=tr.number("max_epochs", 10, 1, 10_000, integer=True),
        early_stopping_patience=tr.number("early_stopping_patience", 0, 0, 10_000, integer=True),
        eval_batch_size=tr.number("eval_batch_size", 256, 1, 65536, integer=True),
        bn_calibration_images=tr.number("bn_calibration_images", 512, 0, 1_000_000, integer=True),
        mixed_precision=tr.get("mixed_precision", bool, False),
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
    if study.enqueue_baseline and (bad := search.baseline_mismatch()):
        raise ConfigError(
            f"{file}: [search] {bad}: excludes the baseline's value "
            f"{getattr(BASELINE, bad)!r} — widen it or set [study] enqueue_baseline = false"
        )
    study = replace(study, enqueue=_presets(file, presets, search, model))
    return StudyConfig(
        path=path, study=study, data=data, search=search, model=model, sampler=sampler, pruner=pruner, training=training
    )
