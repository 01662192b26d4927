"""Study files (``studies/*.toml``) loaded into frozen dataclasses.

Every problem is a `ConfigError` naming the file and the key (``[search] dropout``): an
unknown key, a wrong type, an impossible range. The dataclasses (`hpo.config.schema`,
`hpo.config.space`) are the only place a default is written.

The loader is imported on first use (PEP 562): it checks presets and the baseline with
`hpo.model`, which itself reads the schema, so importing the schema must not pull it in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hpo.config.schema import (
    ArtifactsConfig,
    ConfigError,
    DataConfig,
    ExportConfig,
    ModelConfig,
    PrunerConfig,
    SamplerConfig,
    StudyConfig,
    StudySection,
    TrackingConfig,
    TrainingConfig,
)

if TYPE_CHECKING:
    from hpo.config.load import config_from_dict, load_config

__all__ = [
    "ArtifactsConfig",
    "ConfigError",
    "DataConfig",
    "ExportConfig",
    "ModelConfig",
    "PrunerConfig",
    "SamplerConfig",
    "StudyConfig",
    "StudySection",
    "TrackingConfig",
    "TrainingConfig",
    "config_from_dict",
    "load_config",
]


def __getattr__(name: str) -> Any:
    if name in ("config_from_dict", "load_config"):
        return getattr(importlib.import_module("hpo.config.load"), name)
    raise AttributeError(f"module 'hpo.config' has no attribute {name!r}")
