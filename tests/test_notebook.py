"""The Colab notebook, run by nbclient in smoke mode the way Colab runs it.

- `google.colab` is a stand-in (tests/colab_stub/, imported at kernel start as on Colab) that
  records the Drive mount, the port proxy (and fetches the page it would show) and the download.
- The kernel runs in a Colab-like environment: this venv's packages, TensorFlow and Keras
  included, without hpo. The install cell pip-installs the wheel built from this checkout,
  offline (--no-index, the wheel is the only file pip may fetch).
- A disconnect: the kernel is killed (SIGKILL) in the middle of a trial and the VM's local disk
  is wiped; Run all again restores the study from its Drive copy and resumes it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

import hpo
from tests.helpers import ROOT

pytestmark = pytest.mark.slow
NOTEBOOK = ROOT / "notebooks" / "animals10_colab.ipynb"
STUB = Path(__file__).parent / "colab_stub"
N_TRIALS = 2
PROBE = """
import json, re
from importlib import metadata
names = ("tensorflow", "tensorflow-cpu", "keras", "numpy", "hpo-keras")
found = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in metadata.distributions()}
print("VERSIONS", json.dumps({n: v for n, v in found.items() if n in names}))
"""


def _colab_like_venv(tmp: Path) -> None:
    """A venv holding (as links) every package of this one but hpo, and a kernelspec for it."""
    venv = tmp / "colab-venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python3*/site-packages")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "hpo_keras" not in entry.name:  # the editable install of this checkout
            (site / entry.name).symlink_to(entry)
    spec = tmp / "jupyter" / "kernels" / "colab-sim"
    spec.mkdir(parents=True)
    argv = [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "colab-sim", "language": "python"}))


def _wheel(tmp: Path) -> Path:
    """hpo's wheel, built offline from a copy of this checkout's sources."""
    src = tmp / "src"
    shutil.copytree(ROOT / "hpo", src / "hpo", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist")]
    subprocess.run([*cmd, str(src)], check=True, capture_output=True)
    (wheel,) = (tmp / "dist").glob("hpo_keras-*.whl")
    return wheel


def _notebook(vm: Path) -> Any:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "the first code cell must be tagged 'parameters'"
    params[
        0
    ].source += f"\nSMOKE = True\nN_TRIALS = {N_TRIALS}\nWORK = {str(vm / 'work')!r}\nDRIVE = {str(vm / 'drive')!r}\n"
    return nb


def _text(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


def _versions(client: NotebookClient) -> dict[str, str]:
    cell = nbformat.v4.new_code_cell(PROBE)
    client.nb.cells.append(cell)  # a cell of its own, run in the notebook's kernel, then removed
    client.execute_cell(cell, len(client.nb.cells) - 1)
    client.nb.cells.pop()
    line = next(x for x in _text(cell).splitlines() if x.startswith("VERSIONS "))
    return dict(json.loads(line.removeprefix("VERSIONS ")))


def _finished(db: Path) -> dict[int, tuple[str, float | None]]:
    """trial number -> (params, value) of every finished trial in a study file ({} while unreadable)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            rows = con.execute(
                "select t.number, t.state, v.value from trials t left join trial_values v on v.trial_id = t.trial_id"
            ).fetchall()
            params = dict(
                con.execute(
                    "select t.number, group_concat(p.param_name || '=' || p.param_value, ',') from trials t"
                    " join trial_params p on p.trial_id = t.trial_id group by t.number"
                ).fetchall()
            )
    except sqlite3.Error:
        return {}
    return {n: (params.get(n, ""), v) for n, state, v in rows if state in ("COMPLETE", "PRUNED", "FAIL")}


def _running(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return int(con.execute("select count(*) from trials where state = 'RUNNING'").fetchone()[0])
    except sqlite3.Error:
        return 0


WATCHER = """
import os, signal, sys, time
from pathlib import Path
from tests.test_notebook import _finished, _running
pid, copy, db = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
deadline = time.monotonic() + 600
while not (copy.exists() and _finished(copy) and _running(db)) and time.monotonic() < deadline:
    time.sleep(0.05)
os.killpg(pid, signal.SIGKILL)
"""


def _disconnect_during(client: NotebookClient, index: int, copy: Path, db: Path) -> None:
    """Run cell ``index`` (the search) and kill the kernel, with the dashboard it started, once a
    trial has been copied to Drive and the next one is running: a disconnect in mid-trial. The
    watcher is a process of its own (a thread here would wait for the GIL nbclient holds)."""
    pid = client.km.provisioner.process.pid  # type: ignore[union-attr]
    assert os.getpgid(pid) == pid  # jupyter_client starts each kernel in its own session
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER, str(pid), str(copy), str(db)], cwd=ROOT)
    try:
        with pytest.raises(DeadKernelError):
            client.execute_cell(client.nb.cells[index], index)
    finally:
        watcher.kill()
        watcher.wait()


def _calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_notebook_on_colab_survives_a_disconnect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _colab_like_venv(tmp_path)
    wheel = _wheel(tmp_path)
    vm, drive, log = tmp_path / "vm", tmp_path / "my-drive", tmp_path / "colab-calls.jsonl"
    drive.mkdir()
    env = {
        "JUPYTER_PATH": str(tmp_path / "jupyter"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "PYTHONPATH": os.pathsep.join([str(STUB), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "COLAB_STUB_LOG": str(log),
        "COLAB_STUB_DRIVE": str(drive),
        "PIP_NO_INDEX": "1",  # offline: the wheel below is all pip may find
        "PIP_FIND_LINKS": str(tmp_path / "no-links"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab\n")  # Colab's kernel has it imported

    # Run all, the first time: install, dashboard, search until the kernel is killed mid-trial
    nb = _notebook(vm)
    client = NotebookClient(nb, timeout=600, kernel_name="colab-sim", resources={"metadata": {"path": str(tmp_path)}})
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    install, search = code[1], next(i for i in code if "study.search(" in nb.cells[i].source)
    db = vm / "work" / "animals10-colab.db"
    copy = drive / "hpo-animals10" / db.name
    with client.setup_kernel():
        client.execute_cell(nb.cells[code[0]], code[0])
        before = _versions(client)
        with pytest.raises(CellExecutionError):  # nothing to install yet: one line, no traceback
            client.execute_cell(nb.cells[install], install)
        (error,) = [o for o in nb.cells[install].outputs if o.output_type == "error"]
        assert len(error["traceback"]) == 1 and "no hpo package to install" in error["traceback"][0]
        assert "make wheel" in error["traceback"][0] and "HPO_PACKAGE" in error["traceback"][0]
        shutil.copy2(wheel, tmp_path / wheel.name)  # uploaded through Colab's Files panel
        client.execute_cell(nb.cells[install], install)
        after = _versions(client)
        assert "hpo-keras" not in before and after.pop("hpo-keras") == hpo.__version__
        assert after == before and any(k.startswith("tensorflow") for k in after), (before, after)
        installed = subprocess.run(
            [str(tmp_path / "colab-venv" / "bin" / "python"), "-c", "import hpo, sys; print(hpo.__file__)"],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        ).stdout
        assert str(tmp_path / "colab-venv") in installed  # the wheel, not this checkout
        for i in (i for i in code[2:] if i < search):  # data and study, the dashboard
            client.execute_cell(nb.cells[i], i)
        _disconnect_during(client, search, copy, db)
    saved, lost_vm = _finished(copy), _finished(db)
    assert saved and len(saved) < N_TRIALS and saved == lost_vm  # every finished trial reached Drive
    shutil.rmtree(vm)  # a new VM: the local disk is gone, Drive is not

    # Run all again: the study comes back from Drive and the search resumes
    nb = _notebook(vm)
    NotebookClient(nb, timeout=600, kernel_name="colab-sim", resources={"metadata": {"path": str(tmp_path)}}).execute()
    final = _finished(db)
    assert len(final) == N_TRIALS and all(final[n] == saved[n] for n in saved)  # resumed, nothing lost
    outputs = "".join(_text(c) for c in nb.cells if c.cell_type == "code")
    assert "study restored from Drive" in outputs and "best trial " in outputs
    assert "test accuracy " in outputs and "SavedModel:" in outputs
    html = [o for c in nb.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert any("plotly" in o["data"]["text/html"] for o in html)  # the report, inline

    calls = _calls(log)
    proxies = [c for c in calls if c["call"] == "output.serve_kernel_port_as_iframe"]
    assert len(proxies) == 2 and all(p["status"] == 200 and p["path"] == "/dashboard/" for p in proxies)
    with sqlite3.connect(db) as con:
        starts = [r[0] for r in con.execute("select datetime_start from trials order by number")]
    first_start = time.mktime(time.strptime(starts[0].split(".")[0], "%Y-%m-%d %H:%M:%S"))
    assert proxies[0]["time"] < first_start + 1  # the dashboard was up before the search began
    assert [c["call"] for c in calls].count("drive.mount") == 3  # both runs (and the failed install)
    (download,) = [c for c in calls if c["call"] == "files.download"]
    assert download["size"] > 0 and (drive / "hpo-animals10" / Path(download["filename"]).name).is_file()
    assert (vm / "work" / "model" / "saved_model" / "saved_model.pb").is_file()
