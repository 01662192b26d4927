"""Every install of hpo, whatever its extras, holds exactly one TensorFlow distribution.

Read offline: pyproject's requirements, expanded through the metadata of the packages
installed here (``tensorflow[and-cuda]`` included), for each combination of extras and for
the platforms people install on. ``benchmarks/check_install.py`` asks pip's real resolver
the same question online (its output is in BENCHMARKS.md)."""

from __future__ import annotations

import itertools
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = sorted(PROJECT["optional-dependencies"])
PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
    "linux-aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
}
#: the distributions that each install the `tensorflow` package (two of them overwrite each other)
TF_BUILDS = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos"}


def _requires(name: str) -> list[Requirement]:
    if canonicalize_name(name) == PROJECT["name"]:
        reqs = PROJECT["dependencies"] + [
            f"{r}; extra == '{e}'" for e, rs in PROJECT["optional-dependencies"].items() for r in rs
        ]
        return [Requirement(r) for r in reqs]
    try:
        return [Requirement(r) for r in metadata.requires(name) or []]
    except metadata.PackageNotFoundError:  # e.g. NVIDIA's CUDA wheels, not installed on a CPU machine
        return []


def closure(extras: tuple[str, ...], platform: dict[str, str]) -> set[str]:
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
            env = {**platform, "python_version": "3.11", "extra": extra}
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            dep = canonicalize_name(req.name)
            names.add(dep)
            todo += [(dep, e) for e in ("", *req.extras)]
    return names


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_every_extra_combination_has_one_tensorflow(platform: str) -> None:
    for n in range(len(EXTRAS) + 1):
        for extras in itertools.combinations(EXTRAS, n):
            tf = closure(extras, PLATFORMS[platform]) & TF_BUILDS
            assert tf == {"tensorflow"}, (platform, extras, tf)


def test_the_gpu_extra_adds_cuda_libraries_only() -> None:
    extra = closure(("gpu",), PLATFORMS["linux-x86_64"]) - closure((), PLATFORMS["linux-x86_64"])
    assert extra and all(n.startswith("nvidia-") for n in extra), extra
    cuda = [Requirement(r) for r in metadata.requires("tensorflow") or [] if "and-cuda" in r]
    assert {canonicalize_name(r.name) for r in cuda} == extra


def test_this_environment_holds_one_tensorflow() -> None:
    installed = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()}
    assert installed & TF_BUILDS == {"tensorflow"}
