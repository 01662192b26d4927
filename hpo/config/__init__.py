"""Study files (``studies/*.toml``) loaded into frozen dataclasses.

Every problem is a `ConfigError` naming the file and the key (``[search] dropout``): an
unknown key, a wrong type, an impossible range.
"""

from hpo.config.load import config_from_dict, load_config
from hpo.config.schema import (
    ConfigError,
    DataConfig,
    ModelConfig,
    PrunerConfig,
    SamplerConfig,
    StudyConfig,
    StudySection,
    TrainingConfig,
)

__all__ = [
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "PrunerConfig",
    "SamplerConfig",
    "StudyConfig",
    "StudySection",
    "TrainingConfig",
    "config_from_dict",
    "load_config",
]
