"""Model families: what one trial builds, and how it is compiled.

Three kinds, one contract (`Candidate`):

- ``cnn`` — hpo's own network (`hpo.model.cnn`), with the seed's baseline inside its space;
- a ``keras.applications`` backbone with ImageNet weights (`hpo.model.backbones`): a searched head,
  searched fine-tuning depth and a slower learning rate for the backbone;
- your own ``build(trial, num_classes, image_size) -> keras.Model``, define-by-run: it calls
  ``trial.suggest_*`` itself. A compiled model keeps its optimizer and loss; an uncompiled
  one is compiled with the study's searched optimizer, learning rate and schedule.

Replaying a trial is building it again from ``optuna.trial.FixedTrial(trial.params)``, for
every family alike: that is how `hpo export` retrains the best trial.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import keras
import optuna

from hpo.config import StudyConfig
from hpo.errors import HpoError
from hpo.model.builders import Builder, builder_name, study_builder
from hpo.model.cnn import build_cnn, compile_model, make_optimizer, with_augmentation
from hpo.model.space import suggest, suggest_backbone, suggest_recipe

__all__ = ["Candidate", "build_candidate"]


@dataclass
class Candidate:
    """One built candidate: ``model`` is what is exported (inference only), ``trainer`` what
    ``fit`` trains (compiled; ``model`` behind training-only layers, or ``model`` itself)."""

    model: keras.Model
    trainer: keras.Model
    batch_size: int
    params: dict[str, Any]  # the candidate as resolved (recorded on the trial, in metrics.json)
    calibrate_bn: bool  # hpo's BatchNorm recalibration applies (its own CNN only)


def _custom(
    trial: optuna.trial.BaseTrial, config: StudyConfig, build: Builder, shape: tuple[int, int, int, int]
) -> Candidate:
    num_classes, image_size, train_size, epochs = shape
    batch_size = int(trial.suggest_categorical("batch_size", list(config.search.batch_size.options)))
    steps = math.ceil(train_size / batch_size)
    name = builder_name(build)
    model = build(trial, num_classes, image_size)
    if not isinstance(model, keras.Model):
        raise HpoError(f"builder {name} returned {type(model).__name__}, not a keras.Model")
    if model.output_shape[-1] != num_classes:
        raise HpoError(
            f"builder {name}: the model outputs {model.output_shape[-1]} values, the data has {num_classes} classes"
        )
    if model.compiled:  # the user's optimizer and loss, with the accuracy the pruner reads
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
    else:
        recipe = suggest_recipe(trial, config.search)
        compile_model(model, recipe, make_optimizer(recipe, steps, epochs))
    return Candidate(model, model, batch_size, dict(trial.params), calibrate_bn=False)


def _backbone(trial: optuna.trial.BaseTrial, config: StudyConfig, shape: tuple[int, int, int, int]) -> Candidate:
    from hpo.model.backbones import build_backbone_classifier, scale_learning_rate

    num_classes, image_size, train_size, epochs = shape
    p = suggest_backbone(trial, config.search)
    model, backbone_vars = build_backbone_classifier(
        config.model.family,
        num_classes=num_classes,
        image_size=image_size,
        input_size=config.model.input_size,
        weights=config.model.weights,
        fine_tune_layers=p.fine_tune_layers,
        dense_units=p.dense_units,
        dropout=p.dropout,
        l2=p.l2,
    )
    optimizer = make_optimizer(p.recipe, math.ceil(train_size / p.batch_size), epochs)
    optimizer = scale_learning_rate(optimizer, backbone_vars, p.backbone_lr_scale)
    trainer = compile_model(with_augmentation(model, p.augmentation), p.recipe, optimizer)
    return Candidate(model, trainer, p.batch_size, asdict(p), calibrate_bn=False)


def build_candidate(
    trial: optuna.trial.BaseTrial,
    config: StudyConfig,
    *,
    num_classes: int,
    image_size: int,
    train_size: int,
    epochs: int,
    build: Builder | None = None,
) -> Candidate:
    """Build (and compile) ``trial``'s candidate for ``train_size`` images per epoch over
    ``epochs`` (learning-rate schedules need both). ``build`` overrides ``[model] builder``."""
    shape = (num_classes, image_size, train_size, epochs)
    build = build or study_builder(config)
    if build is not None:
        return _custom(trial, config, build, shape)
    if config.model.family != "cnn":
        return _backbone(trial, config, shape)
    p = suggest(trial, config.search)
    model = build_cnn(p, num_classes, image_size)
    optimizer = make_optimizer(p.recipe, math.ceil(train_size / p.batch_size), epochs)
    trainer = compile_model(with_augmentation(model, p.augmentation), p.recipe, optimizer)
    return Candidate(model, trainer, p.batch_size, asdict(p), calibrate_bn=True)
