"""The HTML report, opened in headless Chromium with the network cut off: every section draws its
figure or says why not, on a study with switchable parameters and on a copy moved elsewhere."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from hpo.config import load_config
from hpo.records.export import ExportMetrics
from tests.helpers import assert_user_error, require, run_hpo
from tests.helpers.browser import chromium, rendered_sections
from tests.helpers.studyfiles import write_study

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STUDY_FIGURES = ("Optimization history", "Learning curves", "Hyperparameter importances", "Parallel coordinates")
SECTIONS = [
    "Optimization history",
    "Learning curves",
    "Trial states",
    "Hyperparameter importances",
    "Contour of the two most important parameters",
    "Rank of the most important parameters",
    "Parallel coordinates",
    "Slices",
    "Empirical distribution of val accuracy",
]
EXPORT_SECTIONS = ["Exported model: confusion matrix", "Exported model: per-class metrics"]


def _report(toml: Path, out: Path) -> dict[str, str]:
    """``hpo report`` (which never loads TensorFlow), then each section's DOM after plotly.js ran."""
    proc = run_hpo("report", toml, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "tensorflow" not in proc.stderr.lower()
    assert not re.search(r"<script[^>]+src=[\"']https?:", out.read_text()), "plotly.js must be inlined, not from a CDN"
    return rendered_sections(out, offline=True)


def _drawn(body: str) -> bool:
    """A section whose graph plotly.js drew (its SVG) with data, or that says why it has none."""
    points = [int(n) for n in re.findall(r'data-points="(\d+)"', body)]
    if points:
        assert all(n > 0 for n in points) and 'class="main-svg"' in body, body[:300]
        return True
    assert re.search(r'<p class="why">Not drawn: [^<]{10,}</p>', body), body[:300]
    return False


def _study(toml: Path) -> optuna.Study:
    cfg = load_config(toml)
    return optuna.load_study(study_name=cfg.study.name, storage=cfg.study.storage)


def test_report_renders_every_plot_offline(searched: dict[str, Path], tmp_path: Path) -> None:
    require(chromium() is not None, "Debian chromium is not installed (.ci/run installs it)")
    sections = _report(searched["toml"], tmp_path / "report.html")
    assert list(sections) == SECTIONS + EXPORT_SECTIONS
    drawn = {title for title, body in sections.items() if _drawn(body)}
    assert {*STUDY_FIGURES, *EXPORT_SECTIONS, "Trial states"} <= drawn, sorted(drawn)
    assert "baseline (trial 0)" in sections["Optimization history"]


def test_report_explains_switchable_parameters(synth_dir: Path, tmp_path: Path) -> None:
    """Four complete trials (random sampler, no pruner) in which seed 7 switches ``l2`` off every
    time: the plots draw the parameters that exist and say why ``l2`` is not there."""
    require(chromium() is not None, "Debian chromium is not installed (.ci/run installs it)")
    toml = write_study(
        tmp_path,
        "switches",
        synth_dir,
        study={"n_trials": 4, "seed": 7},
        sampler={"type": "random", "n_startup_trials": None},
        pruner={"type": "none", "min_resource": None, "reduction_factor": None},
        training={"max_epochs": 2},
    )
    proc = run_hpo("search", toml, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    trials = _study(toml).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    assert not any(t.params["l2_on"] for t in trials), "seed 7 no longer switches l2 off: pick another seed"

    sections = _report(toml, tmp_path / "report.html")
    assert list(sections) == [*SECTIONS, "Exported model"]
    drawn = {title for title, body in sections.items() if _drawn(body)}
    # importances, contour and rank say why not if all four trials tie in val accuracy
    assert {"Optimization history", "Learning curves", "Parallel coordinates", "Slices"} <= drawn, sorted(drawn)
    why_l2 = "l2: in no complete trial (switched off by l2_on in all 4)"
    for title in ("Slices", "Hyperparameter importances", "Parallel coordinates"):
        assert why_l2 in sections[title], title
    assert "Not drawn: no export recorded for this study yet" in sections["Exported model"]


def test_report_from_a_copy_of_the_database_on_another_path(searched: dict[str, Path], tmp_path: Path) -> None:
    """The study records its export relative to the study file, so a copy of the study file, the
    database and the exports elsewhere (another host, another checkout) finds its own export."""
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    toml = Path(shutil.copy(searched["toml"], copy))
    shutil.copy(searched["db"], copy)
    shutil.copytree(searched["out"].parent, copy / "models")
    for metrics in (copy / "models").glob("*/metrics.json"):  # tell the copies from the originals
        replace(ExportMetrics.load(metrics), test_accuracy=0.1234).save(metrics.parent)
    record = _study(toml).user_attrs["export"]
    assert record["path"].startswith("models/"), record
    matrix = "Exported model: confusion matrix"
    assert "accuracy 0.1234" in _report(toml, copy / "report.html")[matrix]

    # a record written before paths were relative holds an absolute one, still read as it is
    _study(toml).set_user_attr("export", {**record, "path": str(copy / record["path"])})
    proc = run_hpo("report", toml, "--out", copy / "old.html")
    assert proc.returncode == 0, proc.stderr
    assert "accuracy 0.1234" in (copy / "old.html").read_text()

    shutil.rmtree(copy / "models")
    proc = run_hpo("report", toml, "--out", copy / "gone.html")
    assert proc.returncode == 0, proc.stderr
    page = (copy / "gone.html").read_text()
    assert f"Not drawn: cannot read {copy / record['path'] / 'metrics.json'} (No such file or directory)" in page


def test_report_default_path_and_unknown_study(searched: dict[str, Path], tmp_path: Path) -> None:
    proc = run_hpo("report", searched["toml"])
    assert proc.returncode == 0, proc.stderr
    assert (searched["toml"].parent / "tiny" / "report.html").is_file()
    other = tmp_path / "ghost.toml"
    other.write_text(f'[study]\nstorage = "sqlite:///{searched["db"]}"\n[data]\nsource = "x"\n')
    assert_user_error(run_hpo("report", other), "no study 'ghost'", "studies there: tiny")
