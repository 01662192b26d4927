"""A stop signal is never lost: one that lands while the garbage collector runs a finalizer is delivered
again a moment later instead of being printed as "Exception ignored" and dropped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.helpers import ROOT

_SCRIPT = textwrap.dedent(
    """
    import os, signal, time
    from hpo.workers.process import install_signal_handlers, interrupted_exit_code

    class Finalized:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # lands here, inside the finalizer
            time.sleep(0.01)
            print("finalizer finished", flush=True)

    install_signal_handlers()
    try:
        Finalized()
        print("after the finalizer", flush=True)
        time.sleep(5)
        print("not interrupted", flush=True)
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc}", flush=True)
        raise SystemExit(interrupted_exit_code())
    """
)


def test_a_signal_inside_a_finalizer_is_delivered_after_it() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 143, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["finalizer finished", "after the finalizer", "interrupted: SIGTERM"]
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr


def test_without_the_deferral_the_interrupt_would_be_lost() -> None:
    """The control: the plain handler (raise at once) loses the interrupt inside the finalizer."""
    plain = _SCRIPT.replace(
        "install_signal_handlers()",
        "signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(KeyboardInterrupt('SIGTERM')))",
    ).replace("time.sleep(5)", "time.sleep(0.5)")
    done = subprocess.run([sys.executable, "-c", plain], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "Exception ignored" in done.stderr and "not interrupted" in done.stdout


_SWALLOWED = textwrap.dedent(
    """
    import os, signal, sys, time
    from hpo.workers.process import ignore_signals, install_signal_handlers

    install_signal_handlers(repeat_s=float(sys.argv[1]) or None)
    try:
        try:  # library code that swallows the interrupt, as a bare except does
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except BaseException:
            print("swallowed", flush=True)
        time.sleep(3)  # the server's loop
        print("not interrupted", flush=True)
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc}", flush=True)
    finally:
        ignore_signals()
    time.sleep(0.5)  # a repeat due now is ignored
    print("stopped", flush=True)
    """
)


def test_a_server_gets_its_signal_again_when_library_code_swallowed_it() -> None:
    """`hpo dashboard`'s handlers: each signal is sent again after repeat_s until the process ignores them."""
    done = subprocess.run(
        [sys.executable, "-c", _SWALLOWED, "0.2"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["swallowed", "interrupted: SIGINT", "stopped"]
    plain = subprocess.run(
        [sys.executable, "-c", _SWALLOWED, "0"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert plain.stdout.splitlines() == ["swallowed", "not interrupted", "stopped"]  # the control: lost
