"""``[artifacts]`` and ``[tracking]`` of a study file (`hpo.config.outputs`), the stores they name
(`hpo.study.artifacts.open_store`) and the one line a missing optional package gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hpo.config import ConfigError, StudyConfig, load_config
from hpo.errors import HpoError
from hpo.study.artifacts import FileStore, open_store
from tests.conftest import ROOT, assert_user_error


def _load(tmp_path: Path, text: str) -> StudyConfig:
    path = tmp_path / "s.toml"
    path.write_text('[data]\nsource = "imgs"\n' + text)
    return load_config(path)


def test_defaults_keep_weights_beside_the_study_and_track_nothing(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "")
    assert cfg.artifacts.store == f"file:{tmp_path / 's' / 'artifacts'}"
    assert (cfg.artifacts.pruned, cfg.artifacts.keep_best) == (False, 0)
    assert (cfg.tracking.tensorboard, cfg.tracking.mlflow) == (None, None)


@pytest.mark.parametrize(
    ("value", "store"),
    [
        ('"file:weights"', "file:{tmp}/weights"),
        ('"file:///abs/w"', "file:/abs/w"),
        ('"s3://my-bucket/"', "s3://my-bucket"),
        ('"gs://b"', "gs://b"),
        ('"none"', "none"),
    ],
)
def test_store_urls(tmp_path: Path, value: str, store: str) -> None:
    cfg = _load(tmp_path, f"[artifacts]\nstore = {value}\npruned = true\nkeep_best = 5\n")
    assert cfg.artifacts.store == store.format(tmp=tmp_path)
    assert (cfg.artifacts.pruned, cfg.artifacts.keep_best) == (True, 5)


def test_tracking_paths_are_relative_to_the_study_file(tmp_path: Path) -> None:
    cfg = _load(tmp_path, '[tracking]\ntensorboard = "runs"\nmlflow = "file:mlruns"\n')
    assert cfg.tracking.tensorboard == tmp_path / "runs"
    assert cfg.tracking.mlflow == (tmp_path / "mlruns").as_uri()
    cfg = _load(tmp_path, '[tracking]\nmlflow = "sqlite:///ml.db"\n')
    assert cfg.tracking.mlflow == f"sqlite:///{tmp_path / 'ml.db'}"
    cfg = _load(tmp_path, '[tracking]\nmlflow = "http://127.0.0.1:5000"\n')
    assert cfg.tracking.mlflow == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[artifacts]\nstore = "s3://b/prefix"\n', "[artifacts] store: 's3://b/prefix': name the bucket alone"),
        ('[artifacts]\nstore = "ftp://host/x"\n', '[artifacts] store: use "file:DIR", "s3://BUCKET"'),
        ('[artifacts]\nstore = "file:"\n', "[artifacts] store: file: names no folder"),
        ("[artifacts]\nkeep_best = -1\n", "[artifacts] keep_best: must be between 0"),
        ('[artifacts]\npruned = "yes"\n', "[artifacts] pruned: expected"),
        ("[artifacts]\nkeep = 3\n", "[artifacts] keep: unknown key"),
        ('[tracking]\nmlflow = "mlruns"\n', '[tracking] mlflow: use a tracking URI such as "sqlite:///mlflow.db"'),
        ('[tracking]\ntensorboard = " "\n', "[tracking] tensorboard: name a folder"),
        ('[tracking]\nwandb = "x"\n', "[tracking] wandb: unknown key"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert str(info.value).startswith(f"{tmp_path / 's.toml'}: ") and fragment in str(info.value)


def test_stores(tmp_path: Path) -> None:
    assert open_store("none") is None
    store = open_store(f"file:{tmp_path / 'a' / 'b'}", create=True)
    assert isinstance(store, FileStore) and (tmp_path / "a" / "b").is_dir()
    assert isinstance(open_store(f"file:{tmp_path / 'c'}"), FileStore) and not (tmp_path / "c").exists()  # readers
    for url, package in (("s3://bucket", "boto3"), ("gs://bucket", "google-cloud-storage")):
        try:
            __import__("boto3" if package == "boto3" else "google.cloud.storage")
        except ImportError:  # not installed (the dev extra has neither): one line naming it
            with pytest.raises(HpoError, match=f"needs the {package} package — pip install {package}"):
                open_store(url)
        else:
            assert open_store(url) is not None


@pytest.mark.slow
def test_a_study_naming_mlflow_without_it_stops_in_one_line(tmp_path: Path, synth_dir: Path) -> None:
    """Without the extra (``import mlflow`` blocked, as when it is not installed): exit 2 before any trial."""
    from tests.studyfiles import write_study

    toml = write_study(tmp_path, "m", synth_dir, study={"n_trials": 1}, tracking={"mlflow": "file:mlruns"})
    code = "import sys; sys.modules['mlflow'] = None; from hpo.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "search", str(toml), "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert_user_error(proc, "[tracking] mlflow needs MLflow", "pip install 'hpo-keras[mlflow]'", sole=False)
    assert "trial " not in proc.stdout  # no trial ran
