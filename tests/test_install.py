"""How hpo installs, checked offline: one TensorFlow build per install (`cpu` or `gpu` extra,
none in a bare install), the Python range stated the same way everywhere, the lock files
agreeing with pyproject's bounds, the Makefile refusing an unsupported Python in one line, and
a CPU install's first screen free of TensorFlow's CUDA errors.

Requirements are expanded through the metadata installed here for each combination of extras
and for the platforms people install on; ``benchmarks/check_install.py matrix`` asks pip's real
resolver per Python version online (BENCHMARKS.md, "Install")."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from hpo.errors import HpoError
from hpo.versions import TF_BUILDS
from tests.helpers import ROOT, run_hpo

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
EXTRAS = sorted(PROJECT["optional-dependencies"])
PYTHONS = ("3.10", "3.11", "3.12", "3.13")  # TensorFlow 2.21's wheels; 3.14 has none
PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
    "linux-aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
}
INSTALLED_TF = [
    name for name in TF_BUILDS if name in {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()}
]


@functools.cache
def _requires(name: str) -> list[Requirement]:
    if canonicalize_name(name) == PROJECT["name"]:
        reqs = PROJECT["dependencies"] + [
            f"{r}; extra == '{e}'" if ";" not in r else f"{r.replace(';', '; (', 1)}) and extra == '{e}'"
            for e, rs in PROJECT["optional-dependencies"].items()
            for r in rs
        ]
        return [Requirement(r) for r in reqs]
    if name in TF_BUILDS and INSTALLED_TF:  # tensorflow and tensorflow-cpu declare the same requirements
        name = INSTALLED_TF[0]
    try:
        return [Requirement(r) for r in metadata.requires(name) or []]
    except metadata.PackageNotFoundError:  # e.g. NVIDIA's CUDA wheels, not installed on a CPU machine
        return []


def closure(extras: tuple[str, ...], platform: dict[str, str], python: str = "3.11") -> set[str]:
    """Names of every distribution ``pip install 'hpo-keras[extras]'`` pulls in on ``platform`` (as far
    as the metadata installed here reaches)."""
    seen: set[tuple[str, str]] = set()
    todo = [(PROJECT["name"], e) for e in ("", *extras)]
    names: set[str] = set()
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for req in _requires(name):
            env = {**platform, "python_version": python, "extra": extra}
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            dep = canonicalize_name(req.name)
            names.add(dep)
            todo += [(dep, e) for e in ("", *req.extras)]
    return names


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_install_has_one_tensorflow_build_or_none(platform: str) -> None:
    """`cpu` or `gpu`: exactly one build; neither (Colab, your own TensorFlow): none."""
    cpu_build = "tensorflow-cpu" if PLATFORMS[platform]["platform_machine"] in ("x86_64", "AMD64") else "tensorflow"
    for n in range(len(EXTRAS) + 1):
        for extras in itertools.combinations(EXTRAS, n):
            if {"cpu", "gpu"} <= set(extras):
                continue  # refused by hpo at start: test_cpu_and_gpu_together_are_refused
            tf = closure(extras, PLATFORMS[platform]) & set(TF_BUILDS)
            expected = {cpu_build} if "cpu" in extras else {"tensorflow"} if "gpu" in extras else set()
            assert tf == expected, (platform, extras, tf)


def test_the_gpu_extra_is_tensorflows_cuda_build() -> None:
    linux = PLATFORMS["linux-x86_64"]
    gpu, cpu = closure(("gpu",), linux), closure(("cpu",), linux)
    assert gpu - cpu and all(n.startswith("nvidia-") for n in gpu - cpu - {"tensorflow"}), gpu - cpu
    assert cpu - gpu == {"tensorflow-cpu"}  # the same dependencies otherwise


def test_this_environment_holds_one_tensorflow() -> None:
    assert len(INSTALLED_TF) == 1, INSTALLED_TF
    spec = importlib.util.spec_from_file_location("check_install", ROOT / "benchmarks" / "check_install.py")
    assert spec is not None and spec.loader is not None
    check_install = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_install)
    assert set(TF_BUILDS) == check_install.TF_BUILDS  # restated there, since `make lock` runs without hpo


def test_python_range_is_stated_the_same_everywhere() -> None:
    requires = SpecifierSet(PROJECT["requires-python"])
    assert [v for v in ("3.9", *PYTHONS, "3.14") if v in requires] == list(PYTHONS)
    classifiers = [c.rsplit(":: ", 1)[1] for c in PROJECT["classifiers"] if re.search(r"Python :: 3\.\d+$", c)]
    assert classifiers == list(PYTHONS)
    assert (
        PYPROJECT["tool"]["ruff"]["target-version"] == "py310" and PYPROJECT["tool"]["mypy"]["python_version"] == "3.10"
    )
    assert f"$(filter {' '.join(PYTHONS)},$(PYVER))" in (ROOT / "Makefile").read_text()
    assert sorted(p.name for p in (ROOT / "constraints").glob("py*.txt")) == [
        f"py{v.replace('.', '')}.txt" for v in PYTHONS
    ]


def _lock(python: str) -> dict[str, str]:
    lines = (ROOT / "constraints" / f"py{python.replace('.', '')}.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert len({n for n, _ in pins}) == len(pins)  # one pin per name
    return {canonicalize_name(n): v for n, v in pins}


@pytest.mark.parametrize("python", PYTHONS)
def test_lock_satisfies_pyproject(python: str) -> None:
    """Each lock pins every requirement of every extra at a version pyproject allows (a bound
    changed without `make lock` fails here), and one TensorFlow release for both builds."""
    lock = _lock(python)
    env = {**PLATFORMS["linux-x86_64"], "python_version": python}
    for extra in ("", *EXTRAS):
        for req in _requires(PROJECT["name"]):
            name = canonicalize_name(req.name)
            if name == PROJECT["name"] or (req.marker is not None and not req.marker.evaluate({**env, "extra": extra})):
                continue
            assert name in lock and lock[name] in req.specifier, (python, extra, str(req), lock.get(name))
    assert lock["tensorflow"] == lock["tensorflow-cpu"]


def test_upper_bounds_where_hpo_reaches_in_and_no_bound_that_cannot_apply() -> None:
    deps = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PROJECT["dependencies"]}
    assert "from optuna.storages._rdb import models" in (ROOT / "hpo" / "workers" / "heartbeat.py").read_text()
    for name in ("optuna", "optuna-integration"):  # private internals: the next major may move them
        assert Version("5.99") in deps[name].specifier and Version("6.0") not in deps[name].specifier
    (tf_keras,) = [r for r in _requires("tensorflow") if canonicalize_name(r.name) == "keras"]
    ours = min(Version(s.version) for s in deps["keras"].specifier if s.operator == ">=")
    assert ours == min(Version(s.version) for s in tf_keras.specifier if s.operator == ">=")  # 3.12: TF 2.21's


def _make(
    tmp_path: Path, python_version: str | None, *args: str, venv: bool = True
) -> subprocess.CompletedProcess[str]:
    """`make ARGS` in a copy of the Makefile, with a fake `python3` on PATH that reports ``python_version``
    (and has a venv module, unless ``venv`` is false)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    ensurepip = "exit 0" if venv else "exit 1"
    answer = f"echo {python_version}" if python_version else "exit 127"
    (fake / "python3").write_text(f'#!/bin/sh\ncase "$*" in *ensurepip*) {ensurepip};; esac\n{answer}\n')
    (fake / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    for name in ("PYTHON", "MAKELEVEL", "MAKEFLAGS", "MFLAGS"):  # a user's shell, not `make test`'s child
        env.pop(name, None)
    return subprocess.run(["make", *args], cwd=tmp_path, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("version", ["3.9", "3.14", None])
def test_make_refuses_an_unsupported_python_in_one_line(tmp_path: Path, version: str | None) -> None:
    made = _make(tmp_path, version, "demo")
    assert made.returncode == 2 and made.stdout == ""
    (line,) = made.stderr.splitlines()
    shown = f"Python {version}" if version else "missing or broken"
    assert f"python3 is {shown}; hpo needs Python 3.10 to 3.13" in line
    assert "PYTHON=python3.12 make demo" in line
    assert not (tmp_path / ".venv").exists()  # nothing created, nothing installed


def test_make_says_when_python_has_no_venv_module(tmp_path: Path) -> None:
    made = _make(tmp_path, "3.10", "demo", venv=False)  # Ubuntu 22.04's python3 without python3-venv
    assert made.returncode == 2 and "sudo apt install python3.10-venv" in made.stderr
    assert len(made.stderr.splitlines()) == 1 and not (tmp_path / ".venv").exists()


def test_make_installs_one_tensorflow_build_with_the_lock_of_that_python(tmp_path: Path) -> None:
    made = _make(tmp_path, "3.12", "-n", "install", "TF=cpu")
    assert made.returncode == 0, made.stderr
    assert "python3 -m venv .venv" in made.stdout
    assert re.search(r"pip install --quiet -e '\.\[dev,cpu\]' *$", made.stdout, re.M)  # no constraints/ here: no -c
    gpu = _make(tmp_path, "3.12", "-n", "install", "TF=gpu").stdout
    assert "pip uninstall --quiet --yes tensorflow-cpu" in gpu and "-e '.[dev,gpu]'" in gpu  # never both builds
    shutil.copytree(ROOT / "constraints", tmp_path / "constraints")
    for version in PYTHONS:
        made = _make(tmp_path, version, "-n", "install", "TF=cpu")
        lock = f"constraints/py{version.replace('.', '')}.txt"
        assert f"pip install --quiet -e '.[dev,cpu]' -c {lock}" in made.stdout, made.stdout


def _fake_distribution(folder: Path, name: str) -> None:
    info = folder / f"{name.replace('-', '_')}-2.21.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 2.21.0\n")


def test_cpu_and_gpu_together_are_refused(tmp_path: Path) -> None:
    """pip cannot make two extras exclusive, so `[cpu,gpu]` installs both builds: hpo says so."""
    (other,) = {"tensorflow", "tensorflow-cpu"} - set(INSTALLED_TF)
    _fake_distribution(tmp_path / "site", other)
    proc = run_hpo("trials", str(tmp_path / "any.toml"), env={"PYTHONPATH": str(tmp_path / "site")})
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith("hpo: error: two TensorFlow builds are installed (") and "pip uninstall --yes" in line
    assert "pip install 'hpo-keras[cpu]'" in line


def test_a_bare_install_says_which_extra_brings_tensorflow(tmp_path: Path) -> None:
    hidden = tmp_path / "site" / "tensorflow"
    hidden.mkdir(parents=True)  # as if no TensorFlow were installed
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')\n"
    )
    proc = run_hpo("data", "synth", str(tmp_path / "img"), "--classes", "2", "--per-class", "3", "--image-size", "8")
    assert proc.returncode == 0, proc.stderr
    study = tmp_path / "s.toml"
    study.write_text(
        '[study]\nname = "s"\nn_trials = 1\nenqueue_baseline = false\n[data]\nsource = "img"\nimage_size = 8\n'
    )
    proc = run_hpo("search", str(study), env={"PYTHONPATH": str(tmp_path / "site")})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("hpo: error: TensorFlow is not installed")
    assert "Traceback" not in proc.stderr and "pip install 'hpo-keras[cpu]'" in proc.stderr


@pytest.mark.slow
def test_first_screen_of_a_cpu_install_has_no_tensorflow_errors(tmp_path: Path) -> None:
    """What `make demo` shows on a machine without a GPU: no `E0000 ... failed call to cuInit`,
    no "Could not find cuda drivers" (the CUDA build probes for a driver; the CPU build doesn't)."""
    if INSTALLED_TF != ["tensorflow-cpu"]:
        pytest.skip(f"this environment holds {INSTALLED_TF}, not the cpu extra's tensorflow-cpu")
    run_hpo("data", "synth", str(tmp_path / "img"), "--classes", "2", "--per-class", "6", "--image-size", "16")
    study = tmp_path / "s.toml"
    study.write_text(
        '[study]\nname = "s"\nn_trials = 1\nenqueue_baseline = false\n[data]\nsource = "img"\nimage_size = 16\n'
        "[search]\ndepth = 1\nbase_filters = 16\nconvs = 1\nresidual = false\n[training]\nmax_epochs = 1\n"
    )
    proc = run_hpo("search", str(study), env={"TF_CPP_MIN_LOG_LEVEL": "0"})  # nothing hidden by the log level
    assert proc.returncode == 0, proc.stderr
    assert "trial    0  COMPLETE" in proc.stdout
    assert not [x for x in proc.stderr.splitlines() if re.match(r"[EF]\d{4} ", x) or re.search("cuInit|cuda", x, re.I)]


def test_plain_postgres_urls_name_psycopg_for_sqlalchemy_2_0_too() -> None:
    """Python 3.10 gets SQLAlchemy 2.0, whose plain postgresql:// means psycopg2 (not installed):
    hpo names psycopg 3, the `postgres` extra's driver, in every plain URL it opens."""
    import sqlalchemy

    from hpo.workers.storage import _postgres_url

    for plain in ("postgresql://u:pw@db:5432/hpo", "postgres://u:pw@db:5432/hpo"):
        url = _postgres_url(plain)
        assert url == "postgresql+psycopg://u:pw@db:5432/hpo"
        assert sqlalchemy.engine.make_url(url).get_dialect().driver == "psycopg"
    with pytest.raises(HpoError, match="pg8000 is not installed"):  # a named driver is kept
        _postgres_url("postgresql+pg8000://u:pw@db/hpo")
