"""`hpo init`: survey a dataset and write a commented study file from a template. Imports
data, model (the baseline), records, errors."""
