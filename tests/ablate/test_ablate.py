"""`hpo ablate` for real: a tiny study on SQLite whose target differs from the baseline in two
settings of two parameters each (AdamW with its weight decay, L2 with its switch), walked through the CLI,
SIGKILLed mid-run and resumed; then the report's waterfall and the one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpo.ablate.path import config_key, settings
from hpo.ablate.plan import make_plan
from hpo.ablate.store import ablation_name, find_ablation, stored_path
from hpo.config import load_config
from hpo.errors import HpoError
from hpo.model.space import baseline_trial_params, suggest
from hpo.records.trial import TrialRecord, baseline_attrs
from tests.helpers import ROOT, assert_user_error, run_hpo
from tests.helpers.studyfiles import write_study

#: the target: the baseline with AdamW (+ its weight decay) and L2 on (+ its strength)
TARGET = {"optimizer": "adamw", "weight_decay": 1e-3, "l2_on": True, "l2": 1e-4}
SMALL = {"depth": 1, "base_filters": 8, "dense_units": 32}  # the space's baseline values, kept small


def _search_study(tmp: Path, synth_dir: Path, name: str, **study: Any) -> Path:
    """A study file and its "finished search": the baseline and one target trial, their params
    recorded by the search space's own `suggest` (their values are given, not trained)."""
    fields = {"heartbeat_interval": 1, "grace_period": 2, **study}
    multi = {"pruner": {"type": "none"}} if "objectives" in study else {}
    toml = write_study(
        tmp,
        name,
        synth_dir,
        study=fields,
        **multi,
        data={"image_size": 16},
        training={"max_epochs": 1},
        search={"depth": [1, 2], "base_filters": [8, 32], "dense_units": [32, 128], "weight_decay": [1e-4, 1e-2]},
    )
    config = load_config(toml)
    directions = ["maximize"] + ["minimize"] * (len(config.study.objectives) - 1)
    opt = optuna.create_study(study_name=name, storage=config.study.storage, directions=directions)
    base = baseline_trial_params(config.search) | SMALL
    for params, value, attrs in ((base, 0.4, baseline_attrs()), ({**base, **TARGET}, 0.6, {})):
        opt.enqueue_trial(params, user_attrs=attrs)
        trial = opt.ask()
        suggest(trial, config.search)
        opt.tell(trial, [value] * len(directions))
    return toml


@pytest.fixture(scope="module")
def killed_and_resumed(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`hpo ablate` SIGKILLed after its second finished training, then run again to the end."""
    tmp = tmp_path_factory.mktemp("ablate")
    toml = _search_study(tmp, synth_dir, "abl")
    storage = load_config(toml).study.storage
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", "ablate", str(toml), "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    before: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
            if ablation_name("abl") not in names:
                continue
            trials = optuna.load_study(study_name=ablation_name("abl"), storage=storage).get_trials()
            done = [t for t in trials if t.state == TrialState.COMPLETE]
            if len(done) >= 2:
                before = {t.number: config_key(t.params) for t in done}
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(before) >= 2, "the ablation did not finish two trainings in 180 s"
    resumed = run_hpo("ablate", toml, "--json", "--no-progress", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    study = optuna.load_study(study_name="abl", storage=storage)
    ablation = find_ablation(study)
    assert ablation is not None
    return {"toml": toml, "study": study, "ablation": ablation, "before": before, "out": resumed}


def test_path_reaches_the_target_in_one_step_per_setting(killed_and_resumed: dict[str, Any]) -> None:
    found = stored_path(killed_and_resumed["ablation"])
    assert found is not None
    plan, path = found
    target = next(t for t in killed_and_resumed["study"].get_trials() if t.number == plan.target)
    differing = {k for k in plan.source_params.keys() | target.params.keys() if not k.endswith("_on")}
    differing = {k for k in differing if plan.source_params.get(k) != target.params.get(k)}
    assert path.complete and path.steps[-1].config == target.params
    assert len(path.steps) - 1 == len(settings(plan.source_params, target.params)) == 2 <= len(differing) == 3
    lines = [json.loads(line) for line in killed_and_resumed["out"].stdout.splitlines()]
    assert [r["step"] for r in lines[:-1]] == [0, 1, 2] and lines[-1]["complete"] is True
    assert sorted(r["setting"] for r in lines[1:-1]) == ["l2", "optimizer"]
    assert all(0.0 <= r["mean"] <= 1.0 for r in lines[:-1])


def test_conditional_parameters_move_with_their_parent(killed_and_resumed: dict[str, Any]) -> None:
    trials = killed_and_resumed["ablation"].get_trials()
    assert len(trials) >= 4
    for t in trials:
        if t.state != TrialState.COMPLETE:
            continue
        config = TrialRecord.of(t).ablation_config
        assert config == t.params  # what was enqueued is what the search space's code replayed
        assert ("weight_decay" in config) == (config["optimizer"] == "adamw")
        assert ("l2" in config) == config["l2_on"]


def test_killed_ablation_resumes_without_retraining(killed_and_resumed: dict[str, Any]) -> None:
    trials = killed_and_resumed["ablation"].get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    keys = Counter((config_key(t.params), TrialRecord.of(t).seed) for t in complete)
    assert len(complete) == 4 and set(keys.values()) == {1}  # 1 + 2 + 1 configurations, each once
    for number, key in killed_and_resumed["before"].items():  # finished before the kill: kept, not retrained
        assert config_key(next(t for t in complete if t.number == number).params) == key
    here = int(killed_and_resumed["out"].stderr.split(" training(s) here")[0].rsplit(" ", 1)[1])
    assert here == 4 - len(killed_and_resumed["before"])
    killed = [t for t in trials if t.state == TrialState.FAIL]  # the one it was training, failed when stale
    assert len(killed) <= 1


def test_report_draws_the_waterfall(killed_and_resumed: dict[str, Any], tmp_path: Path) -> None:
    from hpo.report.html import report_panels

    toml = killed_and_resumed["toml"]
    panels = report_panels(killed_and_resumed["study"], load_config(toml))
    panel = next(p for p in panels if p.title.startswith("What mattered"))
    assert panel.figure is not None and panel.figure.data[0].type == "waterfall"
    assert list(panel.figure.data[0].measure) == ["absolute", "relative", "relative", "total"]


def test_one_line_errors(synth_dir: Path, tmp_path: Path) -> None:
    toml = _search_study(tmp_path, synth_dir, "errs")
    assert_user_error(run_hpo("ablate", toml, "--to", "99"), "--to 99", "no trial 99 (trials 0-1)")  # the CLI's line
    config = load_config(toml)
    study = optuna.load_study(study_name="errs", storage=config.study.storage)
    with pytest.raises(HpoError, match=r"^--from 1 \(trial 1\) is the target \(--to best\): there is no path"):
        make_plan(study, config, "1", "best", 1)
    with pytest.raises(HpoError, match=r"^--from baseline \(baseline \(trial 0\)\) has the same configuration as"):
        study.enqueue_trial(study.trials[0].params)
        trial = study.ask()
        suggest(trial, config.search)
        study.tell(trial, 0.9)  # the best now, with the baseline's configuration
        make_plan(study, config, "baseline", "best", 1)
    multi = _search_study(tmp_path, synth_dir, "multi", objectives=["val_accuracy", "params"])
    config = load_config(multi)
    study = optuna.load_study(study_name="multi", storage=config.study.storage)
    with pytest.raises(HpoError, match=r"^study 'multi' has 2 objectives \(val_accuracy, params\): an ablation"):
        make_plan(study, config, "baseline", "best", 1)
