"""``[artifacts]`` and ``[tracking]`` of a study file (`hpo.config.outputs`), the stores they name
(`hpo.study.artifacts.open_store`) and the one line a missing optional package gives."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hpo.config import ConfigError, StudyConfig, load_config
from hpo.errors import HpoError
from hpo.study.artifacts import FileStore, open_store


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


def test_a_study_naming_mlflow_without_it_stops_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the extra (``import mlflow`` blocked, as when it is not installed): the search's
    callbacks, built before TensorFlow starts and before any trial, stop it with one line."""
    from hpo.study.tracking import study_callbacks

    monkeypatch.setitem(sys.modules, "mlflow", None)
    config = _load(tmp_path, '[tracking]\nmlflow = "file:mlruns"\n')
    with pytest.raises(HpoError) as info:
        study_callbacks(config)
    assert str(info.value) == (
        f"[tracking] mlflow needs MLflow, an optional extra ({tmp_path / 's.toml'}) — pip install 'hpo-keras[mlflow]'"
    )
    monkeypatch.delitem(sys.modules, "mlflow")  # installed (the dev extra has it): a URI it can't open
    config = _load(tmp_path, '[tracking]\nmlflow = "ftp://nowhere/x"\n')
    with pytest.raises(HpoError, match=r"\[tracking\] mlflow ftp://nowhere/x: cannot open it"):
        study_callbacks(config)
