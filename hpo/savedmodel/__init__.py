"""The best trial -> a verified SavedModel (retrain, export, TFLite, metrics, model card), and
everything that reads one (inference, predict, compare). Imports study, model, data, records.

(Named ``savedmodel``, not ``export``: ``hpo.export()`` is a public function.)"""
