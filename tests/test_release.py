"""Releases: one version source (pyproject.toml, read back through importlib.metadata), a
changelog, one repository address, and a wheel and sdist built in isolation, offline, that
install into a fresh virtual environment whose `hpo --version` names every version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import hpo
from tests.helpers import ROOT
from tests.helpers.wheelhouse import repack

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
REPOSITORY = PROJECT["urls"]["Repository"]


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    files = [ROOT / name for name in listed if (ROOT / name).is_file()]
    return [f for f in files if f.suffix not in {".png", ".jpg", ".whl", ".db", ".npy"}]


def test_the_version_is_written_once() -> None:
    assert hpo.__version__ == metadata.version("hpo-keras") == VERSION
    written = []
    for path in _tracked_text_files():
        name = path.relative_to(ROOT).as_posix()
        if name == "CHANGELOG.md":
            continue  # the history names every release
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if re.search(rf"(?<![\d.]){re.escape(VERSION)}(?![\d.])", line):
                if name.startswith("constraints/") and not line.startswith("hpo-keras"):
                    continue  # other packages pinned at the same number
                written.append(f"{name}:{number}: {line.strip()}")
    assert written == [f'pyproject.toml:{_line_of("version = ")}: version = "{VERSION}"'], written


def _line_of(prefix: str) -> int:
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(prefix))


def test_changelog_keeps_a_changelog_with_an_entry_for_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n") and "https://keepachangelog.com/" in text
    assert "## [Unreleased]" in text
    (entry,) = re.findall(rf"^## \[{re.escape(VERSION)}\] - (\d{{4}}-\d{{2}}-\d{{2}})$", text, re.M)
    assert f"[{VERSION}]: {REPOSITORY}/releases/tag/v{VERSION}" in text, entry


def test_one_repository_address_everywhere() -> None:
    assert set(PROJECT["urls"]) >= {"Homepage", "Repository", "Documentation", "Changelog", "Issues"}
    assert all(url.startswith(REPOSITORY) for url in PROJECT["urls"].values())
    for name in ("README.md", "notebooks/animals10_colab.ipynb"):
        text = (ROOT / name).read_text()
        assert f"git+{REPOSITORY}.git" in text, name
    placeholders = ("github.com/" + "YOU/", "git+https://" + "…")  # split: this file names them too
    for path in _tracked_text_files():
        text = path.read_text(errors="replace")
        assert not [p for p in placeholders if p in text], path


def test_version_names_every_version_without_tensorflow_noise() -> None:
    proc = subprocess.run([sys.executable, "-m", "hpo", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"hpo {VERSION}" and lines[1].startswith(f"Python {sys.version.split()[0]} (")
    for label, dist in [("Keras", "keras"), ("Optuna", "optuna"), ("optuna-dashboard", "optuna-dashboard")]:
        assert f"{label} {metadata.version(dist)}" in lines
    assert any(re.match(r"TensorFlow \d+\.\d+\.\d+", x) for x in lines) and lines[-1].startswith("GPUs")


def _offline_env(wheelhouse: Path) -> dict[str, str]:
    for name in ("setuptools", "wheel"):
        repack(name, wheelhouse)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_CONFIG_FILE": os.devnull}


def test_wheel_and_sdist_built_in_isolation_install_into_a_fresh_venv(tmp_path: Path) -> None:
    """`python -m build` (isolated: its own venv with setuptools from the wheelhouse, no index),
    then `pip install --no-deps` of the wheel into a fresh venv that sees this one's
    dependencies; its `hpo --version` is the wheel's."""
    env = _offline_env(tmp_path / "wheelhouse")
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], capture_output=True, text=True, env=env
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = dist.glob(f"hpo_keras-{VERSION}-py3-none-any.whl")
    (sdist,) = dist.glob(f"hpo_keras-{VERSION}.tar.gz")
    with zipfile.ZipFile(wheel) as zf, tarfile.open(sdist) as tf:
        names, sources = zf.namelist(), tf.getnames()
    assert "hpo/cli.py" in names and "hpo/py.typed" in names and not [n for n in names if n.startswith("tests/")]
    assert f"hpo_keras-{VERSION}/CHANGELOG.md" in sources

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # this venv's deps, after its own
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--quiet"]
    installed = subprocess.run([*pip, str(wheel)], capture_output=True, text=True, env=env)
    assert installed.returncode == 0, installed.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import hpo; print(hpo.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr  # the wheel's, not the checkout's
    proc = subprocess.run([str(venv / "bin" / "hpo"), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"hpo {VERSION}"
    assert [x.split()[0] for x in lines[1:5]] == ["Python", "TensorFlow", "Keras", "Optuna"], lines
    assert lines[5].startswith("optuna-dashboard ") and "not installed" not in proc.stdout
