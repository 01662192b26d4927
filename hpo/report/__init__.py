"""What a person looks at: the study summary, the static HTML report and its figures, and the
optuna-dashboard server. Imports study, workers, config, records, errors."""
