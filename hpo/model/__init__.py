"""What a trial trains: the search space (each dimension declared once), the seed CNN, the
keras.applications backbones and a user's own builder. Imports only config, data, records and
errors -- never the study, workers, export or report rooms."""
