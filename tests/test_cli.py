from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT, run_hpo


def test_help_is_instant_and_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from hpo.cli import main\n"
        "argvs = [['--help'], ['data', 'prepare', '-h'], ['search', '-h'], ['best', '-h']]\n"
        "for argv in argvs:\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "assert 'keras' not in sys.modules, 'keras imported'\n"
        "print('CLEAN')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "CLEAN" in proc.stdout
    assert "data prepare" in proc.stdout


def test_prepare_help_explains_the_options() -> None:
    proc = run_hpo("data", "prepare", "--help")
    assert proc.returncode == 0
    for flag in ("--image-size", "--val", "--test", "--seed", "raw-img"):
        assert flag in proc.stdout


def test_console_script_is_installed() -> None:
    exe = ROOT / ".venv" / "bin" / "hpo"
    proc = subprocess.run([str(exe) if exe.exists() else "hpo", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("hpo ")
