"""A stand-in for Colab's `google.colab` (tests/test_notebook.py): the functions the notebook
calls, with Colab's signatures, each recording its call as a JSON line in $COLAB_STUB_LOG."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def record(call: str, **details: Any) -> None:
    with open(os.environ["COLAB_STUB_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"call": call, "time": time.time(), **details}) + "\n")
