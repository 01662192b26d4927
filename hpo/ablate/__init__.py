"""`hpo ablate`: the greedy ablation path from a source configuration (the baseline, a preset, a
trial) to a search's best trial, each configuration trained as a trial of ``<study>-ablation``."""
