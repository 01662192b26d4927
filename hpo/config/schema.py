"""The study file's dataclasses (frozen). Defaults here are the defaults of a study file."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hpo.config.space import SearchSpace
from hpo.errors import ConfigError

__all__ = [
    "ARTIFACTS_FOLDER",
    "COSTS",
    "FAMILIES",
    "PRUNERS",
    "SAMPLERS",
    "STARTUPS",
    "ArtifactsConfig",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "PrunerConfig",
    "SamplerConfig",
    "StudyConfig",
    "StudySection",
    "TrackingConfig",
    "TrainingConfig",
]

SAMPLERS = ("tpe", "random")
STARTUPS = ("auto", "random", "local")  # [sampler] startup
#: the second objective of a multi-objective study (minimized; val_accuracy is maximized)
COSTS = ("latency_ms", "params")
PRUNERS = ("hyperband", "successive_halving", "median", "none")
#: hpo's own CNN and the keras.applications backbones (ImageNet weights, a searched head)
FAMILIES = ("cnn", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_v2_b0", "efficientnet_v2_b1")


@dataclass(frozen=True)
class StudySection:
    name: str
    storage: str
    n_trials: int = 20
    timeout: float | None = None  # seconds
    seed: int = 0
    enqueue_baseline: bool = True
    # [[study.enqueue]] presets (Optuna params, checked against [search]): trials 1.. after the baseline
    enqueue: tuple[dict[str, Any], ...] = ()
    objectives: tuple[str, ...] = ("val_accuracy",)  # + "latency_ms" or "params": a Pareto search
    # a complete trial whose train accuracy (inference mode) beats its val accuracy by more is
    # infeasible: TPE steers away from it and `best`/`export` pick among the feasible ones
    max_train_val_gap: float | None = None
    heartbeat_interval: int = 30  # seconds between a running trial's heartbeats
    grace_period: int = 120  # a trial without a heartbeat for this long is stale (its worker died)
    max_retry: int = 3  # times a stale trial's params are re-queued


@dataclass(frozen=True)
class DataConfig:
    source: Path | None  # None: the data is given to the Python API (arrays, a folder) or as --data
    prepared: Path
    image_size: int = 64
    val: float = 0.15
    test: float = 0.15


@dataclass(frozen=True)
class ModelConfig:
    """What each trial trains: ``family`` (hpo's CNN or a pretrained backbone), or the user's
    ``builder`` ("package.module:function", called as ``build(trial, num_classes, image_size)``)."""

    family: str = "cnn"
    builder: str | None = None
    weights: str | None = "imagenet"  # backbones: "imagenet", or None for random initialisation
    input_size: int | None = None  # backbones: images are resized to this inside the model

    @property
    def name(self) -> str:
        """The family, or the builder's "module:function"."""
        return self.builder or self.family


@dataclass(frozen=True)
class SamplerConfig:
    type: str = "tpe"
    n_startup_trials: int = 10
    # "random": TPE's start-up trials are random; "local": each changes 1-3 dimensions of the best
    # trial so far (the starting points first; hpo.study.local); "auto": local where the study
    # enqueues presets ([[study.enqueue]]), random where its only starting point is the baseline
    startup: str = "auto"


@dataclass(frozen=True)
class PrunerConfig:
    type: str = "hyperband"
    min_resource: int = 1
    reduction_factor: int = 3
    bootstrap_count: int = 0  # hyperband / successive halving: trials a rung needs before promoting
    n_warmup_steps: int = 2  # median pruner only


@dataclass(frozen=True)
class TrainingConfig:
    max_epochs: int = 10
    early_stopping_patience: int = 0  # 0 = off; stops a trial and restores its best epoch's weights
    eval_batch_size: int = 256
    bn_calibration_images: int = 512  # 0 = off; BatchNorm statistics recomputed before each evaluation
    mixed_precision: bool = False  # mixed_float16 on a GPU; float32 (and one warning) on a CPU


@dataclass(frozen=True)
class ExportConfig:
    """``[export]``: what a plain `hpo export` (no --trial, --epochs, --from-trial) writes. ``ensemble``:
    K > 0 averages up to K trials' stored weights, members chosen on the val split
    (`hpo.savedmodel.ensemble`; retrains the best trial where no trial stored weights); 0 retrains
    the best trial on train+val."""

    ensemble: int = 0


#: a study file without ``[artifacts] store`` keeps the weights in this folder of its run folder
ARTIFACTS_FOLDER = "artifacts"


@dataclass(frozen=True)
class ArtifactsConfig:
    """``[artifacts]``: each trial's best-epoch weights as an Optuna artifact (`hpo.study.artifacts`).

    ``store``: ``"file:/abs/dir"``, ``"s3://bucket"``, ``"gs://bucket"``, or ``"none"`` (off). A study
    file that names none gets ``file:<run folder>/ARTIFACTS_FOLDER``; a config built in code has none."""

    store: str = "none"
    pruned: bool = False  # keep pruned trials' weights too (off: a pruned trial is rarely exported)
    keep_best: int = 0  # after each trial, remove all but the K best trials' weights (0: keep all)


@dataclass(frozen=True)
class TrackingConfig:
    """``[tracking]``: where trials are also logged. ``tensorboard``: a folder of TensorBoard runs (one
    per trial); ``mlflow``: an MLflow tracking URI (one run per trial, optuna-integration's callback)."""

    tensorboard: Path | None = None
    mlflow: str | None = None


@dataclass(frozen=True)
class StudyConfig:
    path: Path
    study: StudySection
    data: DataConfig
    search: SearchSpace = field(default_factory=SearchSpace)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    pruner: PrunerConfig = field(default_factory=PrunerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    artifacts: ArtifactsConfig = field(default_factory=ArtifactsConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    @property
    def multi_objective(self) -> bool:
        return len(self.study.objectives) > 1

    def with_data(self, **data_fields: Any) -> StudyConfig:
        """Copy with ``[data]`` values replaced."""
        return replace(self, data=replace(self.data, **data_fields))

    def with_overrides(self, **study_fields: Any) -> StudyConfig:
        """Copy with ``[study]`` values replaced (CLI flags); None values are ignored."""
        changes = {k: v for k, v in study_fields.items() if v is not None}
        return replace(self, study=replace(self.study, **changes)) if changes else self
