"""`hpo init`: survey a dataset, time the preset's network here, and write a commented study file
from a template. Imports data, model (the recipe, the CNN; Keras only inside the timing run),
config, records, errors."""
