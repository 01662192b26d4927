"""Your own model: finding the ``[model] builder = "package.module:function"`` a study names,
and naming a builder given to the Python API. No TensorFlow here (the builder's module may
import it), so the CLI checks a study's builder before it prepares any data."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.config import StudyConfig
from hpo.errors import ConfigError

if TYPE_CHECKING:
    import keras
    import optuna

__all__ = ["Builder", "builder_name", "family_name", "resolve_builder", "study_builder"]

#: ``build(trial, num_classes, image_size) -> keras.Model``: inputs are ``(image_size, image_size, 3)``
#: RGB floats in 0-255 (scale them inside the model); the output is softmax over ``num_classes``
Builder = Callable[["optuna.trial.BaseTrial", int, int], "keras.Model"]


def builder_name(build: Builder) -> str:
    """``module:function`` of a builder, as a study file would name it (a script's own
    function is named after the script's file, not ``__main__``)."""
    module = getattr(build, "__module__", None) or "?"
    if module == "__main__" and (script := getattr(sys.modules.get("__main__"), "__file__", None)):
        module = Path(script).stem
    return f"{module}:{getattr(build, '__qualname__', type(build).__name__)}"


def family_name(config: StudyConfig, build: Builder | None = None) -> str:
    """What a study's trials train: the builder given, else ``[model]`` builder or family."""
    return builder_name(build) if build is not None else config.model.name


def resolve_builder(spec: str, search_dirs: list[Path] | tuple[Path, ...] = ()) -> Builder:
    """The function ``spec`` ("package.module:function") names, importable from ``sys.path`` or
    from ``search_dirs``; a one-line `ConfigError` otherwise."""
    module_name, _, attr = spec.partition(":")
    for folder in search_dirs:
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"[model] builder {spec!r}: cannot import {module_name} ({exc})") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise ConfigError(f"[model] builder {spec!r}: {module_name} has no function {attr}")
    return target  # type: ignore[no-any-return]


def study_builder(config: StudyConfig) -> Builder | None:
    """The study's ``[model] builder``, imported from the study file's folder or the current
    one (None when the study trains a family)."""
    if config.model.builder is None:
        return None
    return resolve_builder(config.model.builder, (config.path.resolve().parent, Path.cwd()))
