"""`drive.mount`: MyDrive under the mount point is $COLAB_STUB_DRIVE, which outlives the "VM"."""

from __future__ import annotations

import os
from pathlib import Path

from google.colab import record


def mount(mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000, readonly: bool = False) -> None:
    my_drive = Path(mountpoint) / "MyDrive"
    my_drive.parent.mkdir(parents=True, exist_ok=True)
    if not my_drive.exists():
        my_drive.symlink_to(os.environ["COLAB_STUB_DRIVE"], target_is_directory=True)
    record("drive.mount", mountpoint=str(mountpoint))
    print(f"Mounted at {mountpoint}")
