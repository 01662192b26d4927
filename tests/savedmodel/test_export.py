"""Export -> reload in another process -> evaluate -> predict, on a tiny real study."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from PIL import Image, ImageOps

from hpo.config import load_config
from hpo.data import load_prepared
from hpo.data.decode import decode_file
from hpo.fsutil import file_lock, write_checksums
from hpo.records.export import ExportMetrics
from tests.helpers import assert_user_error, run_hpo
from tests.helpers.imagefiles import ODD_FILES, write_odd_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(searched: dict[str, Path]) -> dict[str, Path]:
    return searched


def test_export_folder_contents(exported: dict[str, Path]) -> None:
    out = exported["out"]
    for name in ("saved_model/saved_model.pb", "model.keras", "labels.json", "preprocess.json", "metrics.json"):
        assert (out / name).is_file(), name
    m = ExportMetrics.load(out)
    assert 0.0 <= m.test_accuracy <= 1.0 and m.reload_max_abs_diff <= 1e-5
    assert len(m.test.confusion_matrix) == 4 and len(m.test.per_class) == 4
    assert {"train", "val", "test"} == set(m.split_sizes) and m.training_seconds > 0
    assert m.params["batch_size"] in (16, 32) and m.epochs >= 1 and m.family == "cnn"
    assert m.tflite is not None and set(m.tflite) == {"float16", "int8"}
    for v in m.tflite.values():
        assert (out / v.file).is_file() and v.size_mb > 0
    assert m.tflite["int8"].size_mb < m.tflite["float16"].size_mb < m.saved_model_size_mb
    sums = dict(reversed(line.split("  ")) for line in (out / "SHA256SUMS").read_text().splitlines())
    assert sums.keys() == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    labels = json.loads((out / "labels.json").read_text())
    assert [lab["name"] for lab in labels] == ["circle", "cross", "square", "triangle"]
    card = (out / "MODEL_CARD.md").read_text()
    for heading in ("## Data", "## Metrics", "## Intended use", "## Limitations"):
        assert heading in card
    assert f"{m.test_accuracy:.4f}" in card and "A from-scratch CNN found by an Optuna search" in card


def test_paths_in_the_study_and_the_export_are_relative(exported: dict[str, Path]) -> None:
    """Relative to the study file's folder (the study's record) and to the export folder (the
    dataset in metrics.json and MODEL_CARD.md), so a copy elsewhere resolves them to its own."""
    cfg = load_config(exported["toml"])
    record = optuna.load_study(study_name=cfg.study.name, storage=cfg.study.storage).user_attrs["export"]
    assert not Path(record["path"]).is_absolute() and (exported["toml"].parent / record["path"]).is_dir()
    out = exported["out"]
    source = ExportMetrics.load(out).source
    assert not Path(source).is_absolute() and (out / source).resolve() == cfg.data.source.resolve()
    assert str(out.parent) not in (out / "MODEL_CARD.md").read_text()


def _follow_contract(path: Path, contract: dict[str, Any]) -> np.ndarray:
    """``preprocess.json`` followed with Pillow alone, as a consumer without hpo would."""
    size, resize = contract["image_size"], contract["resize"]
    with Image.open(path) as img:
        if img.format == "JPEG" and resize["jpeg_draft"]:
            img.draft(img.mode, (size, size))
        img = ImageOps.exif_transpose(img)
        if img.mode in ("I;16", "I", "F"):  # bit_depth
            arr = np.asarray(img, np.float64)
            scale = 1.0 if img.mode == "F" and arr.max() <= 1 else 255.0 if arr.max() <= 255 else 65535.0
            img = Image.fromarray(np.clip(arr / scale * 255 + 0.5, 0, 255).astype(np.uint8))
        if "A" in img.mode or (img.mode == "P" and "transparency" in img.info):  # alpha on white
            img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
        img = img.convert(contract["channel_order"])
        w, h = img.size
        side = min(w, h)
        box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
        img = img.resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=resize["reducing_gap"])
    return np.asarray(img, np.uint8)


def test_preprocess_json_is_a_contract_readable_without_hpo(exported: dict[str, Path], tmp_path: Path) -> None:
    import keras

    text = (exported["out"] / "preprocess.json").read_text()
    assert "hpo" not in text.lower()
    contract = json.loads(text)
    size = contract["image_size"]
    for name, ok in write_odd_files(tmp_path).items():
        if ok:  # followed word for word, the contract gives the very pixels training saw
            np.testing.assert_array_equal(
                _follow_contract(tmp_path / name, contract), decode_file(tmp_path / name, size)
            )
    model = keras.saving.load_model(exported["out"] / "model.keras")
    assert list(model.input_shape) == contract["input"]["shape"] == [None, size, size, 3]
    assert model.inputs[0].dtype == contract["input"]["dtype"] == "float32"
    assert contract["input"]["layout"] == "NHWC" and contract["channel_order"] == "RGB"
    assert contract["output"]["shape"] == [None, len(json.loads((exported["out"] / "labels.json").read_text()))]


def test_an_export_written_before_the_contract_still_predicts(
    exported: dict[str, Path], synth_dir: Path, tmp_path: Path
) -> None:
    export = shutil.copytree(exported["out"], tmp_path / "old")
    size = json.loads((export / "preprocess.json").read_text())["image_size"]
    old = {"image_size": size, "channels": "RGB", "resize": "shorter-side-bicubic-center-crop", "input": "float32"}
    (export / "preprocess.json").write_text(json.dumps({**old, "decode": "hpo.data.decode.decode_file"}))
    write_checksums(export)
    proc = run_hpo("predict", export, synth_dir / "circle" / "0000.jpg")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\t")[1] in ("circle", "cross", "square", "triangle")


def test_savedmodel_in_a_separate_process_gives_the_same_predictions(exported: dict[str, Path], tmp_path: Path) -> None:
    import keras

    images, _ = load_prepared(exported["prepared"]).arrays("test")
    np.save(tmp_path / "x.npy", images)
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "x = np.load(sys.argv[2]).astype('float32')\n"
        "np.save(sys.argv[3], m.serve(tf.constant(x)).numpy())\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(exported["out"] / "saved_model"),
            str(tmp_path / "x.npy"),
            str(tmp_path / "p.npy"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    theirs = np.load(tmp_path / "p.npy")
    ours = np.asarray(keras.saving.load_model(exported["out"] / "model.keras").predict(images, verbose=0))
    assert theirs.shape == (len(images), 4)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)


def test_evaluate_reproduces_the_exported_test_accuracy(exported: dict[str, Path]) -> None:
    m = ExportMetrics.load(exported["out"])
    proc = run_hpo("evaluate", exported["out"], exported["prepared"], "--json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["accuracy"] == pytest.approx(m.test_accuracy, abs=1e-9)
    assert result["confusion_matrix"] == m.test.confusion_matrix
    tfl = run_hpo("evaluate", exported["out"] / "model_int8.tflite", exported["prepared"], "--json")
    assert tfl.returncode == 0, tfl.stderr
    assert m.tflite is not None
    assert json.loads(tfl.stdout)["accuracy"] == pytest.approx(m.tflite["int8"].test_accuracy, abs=1e-9)


def test_evaluate_on_a_class_folder_dataset(exported: dict[str, Path], synth_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(synth_dir / "circle", tmp_path / "ds" / "circle")
    (tmp_path / "ds" / "circle" / "broken.jpg").write_text("no")
    proc = run_hpo("evaluate", exported["out"], tmp_path / "ds", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["n"] == 20 and len(result["skipped"]) == 1


def test_predict_reads_every_decodable_file_and_reports_the_rest(exported: dict[str, Path], tmp_path: Path) -> None:
    write_odd_files(tmp_path / "odd")
    proc = run_hpo("predict", exported["out"], tmp_path / "odd", "--top-k", "2")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    good = sorted(n for n, ok in ODD_FILES.items() if ok)
    assert sorted(Path(ln.split("\t")[0]).name for ln in lines) == good
    for ln in lines:
        _, label, prob = ln.split("\t")[:3]
        assert label in ("circle", "cross", "square", "triangle") and 0 <= float(prob.split()[0]) <= 1
    for name, ok in ODD_FILES.items():
        assert (f"cannot read {tmp_path / 'odd' / name}:" in proc.stderr) != ok
    as_json = json.loads(run_hpo("predict", exported["out"], tmp_path / "odd" / "gray.jpg", "--json").stdout)
    assert len(as_json) == 1 and len(as_json[0]["top"]) == 3


def test_exporting_the_baseline_trial_then_replacing_it(exported: dict[str, Path]) -> None:
    out = exported["out"].parent / "baseline"
    proc = run_hpo("export", exported["toml"], "--trial", "0", "--epochs", "1", "--out", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    m = ExportMetrics.load(out)
    assert m.trial == 0 and m.baseline is True and m.epochs == 1
    (out.parent / ".baseline.tmp-1" / "saved_model").mkdir(parents=True)  # left by an export killed mid-way
    proc = run_hpo("export", exported["toml"], "--trial", "1", "--epochs", "1", "--out", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert ExportMetrics.load(out).trial == 1  # the previous export, replaced
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".baseline.") and p.is_dir()]


def test_a_second_export_into_the_same_folder_is_refused_at_once(exported: dict[str, Path]) -> None:
    out = exported["out"]
    before = (out / "metrics.json").read_bytes()
    with file_lock(out.with_name(f".{out.name}.lock")):  # as an export still training would hold it
        proc = run_hpo("export", exported["toml"], "--out", out, "--no-progress")
    assert_user_error(proc, "another `hpo export` is writing", sole=False)
    assert (out / "metrics.json").read_bytes() == before


TRUNCATED = b"truncated"  # marker: cut the file to a third


@pytest.mark.parametrize(
    ("file", "content", "checksums", "fragment"),
    [
        ("saved_model/saved_model.pb", TRUNCATED, True, "saved_model/saved_model.pb differs from its checksum"),
        ("model_int8.tflite", TRUNCATED, True, "model_int8.tflite differs from its checksum"),
        # exports from before SHA256SUMS, or with it removed: the files themselves are checked
        ("saved_model/saved_model.pb", TRUNCATED, False, "cannot load the model"),
        ("saved_model/variables/variables.data-00000-of-00001", TRUNCATED, False, "cannot load the model"),
        ("labels.json", b'{"a": 1}', False, "labels.json is malformed"),
        ("labels.json", b'[{"index": 0, "name": "a", "label": "a"}]', False, "outputs of shape (1, 4) for 1 labels"),
        ("labels.json", b"[1,", False, "cannot read"),
        ("preprocess.json", b'{"image_size": "big"}', False, "preprocess.json is malformed"),
    ],
)
def test_a_damaged_export_is_one_line_exit_2(
    exported: dict[str, Path],
    synth_dir: Path,
    tmp_path: Path,
    file: str,
    content: bytes,
    checksums: bool,
    fragment: str,
) -> None:
    export = shutil.copytree(exported["out"], tmp_path / "export")
    if not checksums:
        (export / "SHA256SUMS").unlink()
    data = (export / file).read_bytes()
    (export / file).write_bytes(data[: len(data) // 3] if content == TRUNCATED else content)
    model = export / file if file.endswith(".tflite") else export
    if "variables" in file:
        proc = run_hpo("evaluate", model, exported["prepared"])
    else:
        proc = run_hpo("predict", model, synth_dir / "circle" / "0000.jpg")
    assert_user_error(proc, fragment, "export", sole=False)


def test_bad_input_is_one_line_exit_2(exported: dict[str, Path], tmp_path: Path, animals10_sample: Path) -> None:
    broken = tmp_path / "nolabels"
    shutil.copytree(exported["out"], broken)
    (broken / "labels.json").unlink()
    assert_user_error(run_hpo("predict", broken, tmp_path), "labels.json is missing")
    assert_user_error(run_hpo("predict", exported["out"], tmp_path / "nope.jpg"), "no such file or folder")
    assert_user_error(run_hpo("evaluate", tmp_path / "nomodel", tmp_path), "model not found")
    proc = run_hpo("evaluate", exported["out"], animals10_sample)
    assert_user_error(proc, "don't match the model", "dataset has cane", "model has circle", sole=False)
    (tmp_path / "junk.jpg").write_text("x")
    assert_user_error(run_hpo("predict", exported["out"], tmp_path / "junk.jpg"), "none of the 1 files", sole=False)
    assert_user_error(run_hpo("export", exported["toml"], "--trial", "99"), "no trial 99", sole=False)
