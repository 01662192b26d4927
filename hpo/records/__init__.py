"""Typed records for everything that crosses a module or process boundary: a trial's
attributes (`hpo.records.trial`), ``metrics.json`` (`hpo.records.export`). Modules read and
write these through the records, never by string key, so a renamed field fails in mypy rather
than at run time in another process."""
