"""The Python API: what `hpo/__init__.py` exports, and what the CLI itself calls.

    import hpo

    study = hpo.Study.from_file("studies/demo.toml")        # or hpo.Study.create("name", search={...})
    optuna_study = study.search(n_trials=10)                 # data: [data] source, a folder or arrays
    export = study.export("models/demo")                     # retrain best, score on test, SavedModel
    print(export.metrics.test_accuracy, export.path)

Data is a class folder (prepared and cached), a prepared folder (``hpo data prepare``), or
in-memory arrays (`hpo.arrays`). ``build=`` brings your own model (see `hpo.model.families`).
Importing this module does not import TensorFlow; searching and exporting do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial

from hpo.config import StudyConfig, config_from_dict, load_config
from hpo.data.cache import MANIFEST_FILE
from hpo.data.prepared import PreparedData, load_prepared
from hpo.errors import HpoError
from hpo.records.export import SAVED_MODEL_DIR, ExportMetrics
from hpo.study.artifacts import stored_trials
from hpo.study.study import best_by_accuracy, load_study, open_study

if TYPE_CHECKING:
    import keras

    from hpo.model.builders import Builder
    from hpo.study.progress import SearchProgress

log = logging.getLogger(__name__)
__all__ = ["DataSource", "Export", "Study", "StudyCallback", "export", "search"]

#: a class folder (``<class>/*.jpg``), a prepared folder, or `PreparedData` (e.g. `hpo.arrays`)
DataSource = str | os.PathLike[str] | PreparedData
#: an Optuna study callback: called with the study and each finished trial
StudyCallback = Callable[[optuna.Study, FrozenTrial], None]


@dataclass(frozen=True)
class Export:
    """An export folder (``saved_model/``, ``model.keras``, labels, metrics, model card) and its metrics."""

    path: Path
    metrics: ExportMetrics

    @property
    def saved_model(self) -> Path:
        return self.path / SAVED_MODEL_DIR


class Study:
    """A study (its settings and its Optuna study in the storage) and what you do with it.

    ``build``: ``build(trial, num_classes, image_size) -> keras.Model`` used instead of the
    study's ``[model]`` (a compiled model keeps its optimizer; an uncompiled one gets the
    searched one). A callable only lives in this process: for ``hpo worker`` processes, name it
    in the study file as ``[model] builder = "package.module:function"``."""

    def __init__(self, config: StudyConfig, *, build: Builder | None = None) -> None:
        if build is not None:  # the baseline preset is hpo's CNN, not the model ``build`` makes
            config = config.with_overrides(enqueue_baseline=False)
        self.config = config
        self.build = build
        self._data: PreparedData | None = None

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        storage: str | None = None,
        n_trials: int | None = None,
        timeout: float | None = None,
        build: Builder | None = None,
    ) -> Study:
        """The study of a study file; ``storage``, ``n_trials``, ``timeout`` override the file's."""
        config = load_config(Path(path)).with_overrides(storage=storage, n_trials=n_trials, timeout=timeout)
        return cls(config, build=build)

    @classmethod
    def create(
        cls,
        name: str,
        *,
        folder: str | os.PathLike[str] = ".",
        build: Builder | None = None,
        **sections: dict[str, Any],
    ) -> Study:
        """A study without a file: ``sections`` are the study file's tables as dicts (``study``,
        ``data``, ``model``, ``search``, ``sampler``, ``pruner``, ``training``), validated as a
        file would be. Its SQLite database and run folder are in ``folder``."""
        doc = {key: dict(value) for key, value in sections.items()}
        doc.setdefault("study", {}).setdefault("name", name)
        path = Path(folder) / f"{name}.toml"
        return cls(config_from_dict(doc, path, label=f"hpo.Study.create({name!r})"), build=build)

    @property
    def name(self) -> str:
        return self.config.study.name

    def data(self, source: DataSource | None = None, *, progress: bool = False) -> PreparedData:
        """The data trials train on: ``source`` (a class folder is prepared and cached under the
        study's run folder), else the one given before, else ``[data] source``."""
        from hpo.study.run import load_data

        if isinstance(source, PreparedData):
            self._data = source
        elif source is not None:
            folder = Path(source)
            if (folder / MANIFEST_FILE).is_file():
                self._data = load_prepared(folder)
            else:
                source_dir = folder.expanduser().resolve()
                config = self.config.with_data(source=source_dir)
                self._data = load_data(config, progress=progress)
        elif self._data is None:
            self._data = load_data(self.config, progress=progress)
        return self._data

    def optuna_study(self) -> optuna.Study:
        """The Optuna study in its storage (an error naming the studies there if it is missing)."""
        return load_study(self.config)

    def best_trial(self) -> FrozenTrial:
        trial = best_by_accuracy(self.optuna_study().get_trials(deepcopy=False))
        if trial is None:
            raise HpoError(f"study '{self.name}' has no complete trial yet — run the search first")
        return trial

    def search(
        self,
        data: DataSource | None = None,
        *,
        n_trials: int | None = None,
        timeout: float | None = None,
        progress: SearchProgress | None = None,
        verbose: bool = False,
        callbacks: Sequence[StudyCallback] = (),
        keras_callbacks: Sequence[keras.callbacks.Callback] = (),
    ) -> optuna.Study:
        """Run (or resume) the search until the study holds ``n_trials`` finished trials (the
        cap is study-wide) or ``timeout`` seconds pass; returns the Optuna study. Prints one
        line per finished trial (per epoch too with ``verbose``) unless ``progress`` says else.

        ``callbacks``: Optuna study callbacks, called after each finished trial (e.g.
        optuna-integration's ``MLflowCallback``); ``keras_callbacks``: added to every trial's
        ``fit`` (e.g. ``keras.callbacks.TensorBoard``; one instance serves every trial)."""
        from hpo.study.progress import SearchProgress
        from hpo.study.run import run_search
        from hpo.workers.process import configure_tensorflow

        self.config = self.config.with_overrides(n_trials=n_trials, timeout=timeout)
        prepared = self.data(data)
        configure_tensorflow(mixed_precision=self.config.training.mixed_precision)
        s = self.config.study
        shown = progress or SearchProgress(s.n_trials, s.timeout, verbose=verbose, live=False)
        return run_search(
            self.config, prepared, progress=shown, build=self.build, user_callbacks=callbacks,
            keras_callbacks=keras_callbacks,
        )  # fmt: skip

    def export(
        self,
        out: str | os.PathLike[str] | None = None,
        *,
        data: DataSource | None = None,
        trial: int | None = None,
        max_cost: float | None = None,
        epochs: int | None = None,
        tflite: bool = False,
        progress: bool = False,
        from_trial: bool = False,
        ensemble: int | None = None,
    ) -> Export:
        """Retrain the best (or given) trial on train+val, score it once on the test split and
        write the export folder ``out`` (default ``models/<name>``), reloaded and checked.
        ``from_trial``: no retraining — the trial's own weights, stored by the search (``[artifacts]``);
        ``ensemble``: no retraining — the mean of up to that many trials' stored weights, chosen on val;
        None: the study file's ``[export] ensemble`` when no trial, epochs, cost or ``from_trial`` is given."""
        from hpo.savedmodel.export import check_export_out, export_study

        folder = Path(out) if out is not None else Path("models") / self.name
        check_export_out(self.config, folder)  # before any data is prepared or a model trained
        study = load_study(self.config)
        metrics = export_study(
            self.config,
            study,
            self.data(data),
            folder,
            trial_number=trial,
            max_cost=max_cost,
            epochs=epochs,
            tflite=tflite,
            progress=progress,
            build=self.build,
            from_trial=from_trial,
            ensemble=self._ensemble(study, ensemble, trial, epochs, max_cost, from_trial),
        )
        return Export(folder.resolve(), metrics)

    def _ensemble(
        self, study: optuna.Study, asked: int | None, trial: int | None, epochs: int | None, max_cost: float | None,
        from_trial: bool,
    ) -> int:  # fmt: skip
        """Members for `export_study`: ``asked``, else ``[export] ensemble`` unless another way was asked
        for — and then only where some complete trial stored its weights (else a retrain, said once)."""
        if asked is not None:
            return asked
        default = self.config.export.ensemble
        asked_other = from_trial or trial is not None or epochs is not None or max_cost is not None
        if default < 1 or asked_other or len(study.directions) > 1:
            return 0
        if stored_trials(study):
            return default
        log.warning(
            "[export] ensemble = %d, but no complete trial stored its weights: retraining the best trial", default
        )
        return 0

    def report(self, out: str | os.PathLike[str] | None = None) -> Path:
        """Write the static HTML report (plotly figures of the study and its export); its path."""
        from hpo.report.html import build_report, default_report_path

        return build_report(self.optuna_study(), self.config, Path(out) if out else default_report_path(self.config))

    def open(self) -> optuna.Study:
        """Create the study in its storage (with the baseline enqueued) if it is not there yet."""
        return open_study(self.config)


def _study(study: Study | str | os.PathLike[str], build: Builder | None) -> Study:
    if isinstance(study, Study):
        return Study(study.config, build=build or study.build)
    return Study.from_file(study, build=build)


def search(
    study: Study | str | os.PathLike[str],
    data: DataSource | None = None,
    *,
    build: Builder | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    verbose: bool = False,
    callbacks: Sequence[StudyCallback] = (),
    keras_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> optuna.Study:
    """`Study.search` on a `Study` or a study file."""
    return _study(study, build).search(
        data, n_trials=n_trials, timeout=timeout, verbose=verbose, callbacks=callbacks, keras_callbacks=keras_callbacks
    )


def export(
    study: Study | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    data: DataSource | None = None,
    build: Builder | None = None,
    trial: int | None = None,
    epochs: int | None = None,
    tflite: bool = False,
    from_trial: bool = False,
    ensemble: int | None = None,
) -> Export:
    """`Study.export` on a `Study` or a study file."""
    return _study(study, build).export(
        out, data=data, trial=trial, epochs=epochs, tflite=tflite, from_trial=from_trial, ensemble=ensemble
    )
