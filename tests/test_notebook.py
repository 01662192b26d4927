"""The Colab notebook, executed top to bottom in smoke mode with nbclient (Colab-only cells
are guarded by `IN_COLAB` and skipped here). It drives hpo through the Python API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
NOTEBOOK = ROOT / "notebooks" / "animals10_colab.ipynb"


def test_notebook_runs_in_smoke_mode(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "the first code cell must be tagged 'parameters'"
    params[0].source += f"\nSMOKE = True\nWORK = {str(tmp_path / 'work')!r}\n"  # as papermill injects
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    work = tmp_path / "work"
    assert (work / "model" / "saved_model" / "saved_model.pb").is_file()
    assert (work / "report.html").is_file() and (work / "hpo-model.zip").is_file()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "trial    1  " in outputs and "best trial " in outputs  # the search's own lines, through the API
    assert "test accuracy " in outputs and "SavedModel:" in outputs
    # the CLI runs only as the background dashboard server; search, report and export are API calls
    assert not any('"-m", "hpo"' in c.source and "dashboard" not in c.source for c in nb.cells)
