"""One study in one process: open it, ask, train (the fit seam), report every epoch, tell;
the search loop and its progress line. Imports model, workers, config, data, records, errors.

(Named ``study``, not ``search``: ``hpo.search()`` is a public function, and a subpackage of the
same name would replace it on the ``hpo`` module as soon as it is imported.)"""
