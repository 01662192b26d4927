"""Typed records for everything that crosses a module or process boundary: a trial's
attributes (`hpo.records.trial.TrialRecord`), ``metrics.json``
(`hpo.records.export.ExportMetrics`, read key by key with `hpo.records.reader`) and a study's export record
(`hpo.records.study.ExportRecord`); and which folders on disk are hpo's own records
(`hpo.records.owned`: an export, prepared data). Modules read and write these through the records, never by
string key, so a renamed field fails in mypy rather than at run time in another process."""
