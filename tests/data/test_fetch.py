from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hpo.data.fetch import fetch
from tests.helpers import ROOT


def test_existing_download_is_reused_without_network(tmp_path: Path) -> None:
    (tmp_path / "raw-img" / "cane").mkdir(parents=True)
    assert fetch("animals10", tmp_path) == tmp_path


def test_without_kagglehub_the_error_says_how_to_get_it_by_hand(tmp_path: Path) -> None:
    # block the import in a fresh interpreter: no network is touched
    code = (
        "import sys; sys.modules['kagglehub'] = None; from hpo.cli import main; "
        f"sys.exit(main(['data', 'fetch', 'animals10', '--out', {str(tmp_path / 'a10')!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert line.startswith("hpo: error: kagglehub is not installed")
    assert "alessiocorrado99/animals10" in line and "raw-img" in line and "\n" not in line
