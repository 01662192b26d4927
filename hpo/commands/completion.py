"""`hpo completion bash|zsh|tcsh`: a shell completion script for every command and option,
generated from the argument parser by shtab (static: nothing of hpo runs at each <Tab>)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["SHELLS", "register"]

SHELLS = ("bash", "zsh", "tcsh")
INSTALL = {
    "bash": 'eval "$(hpo completion bash)"   # in ~/.bashrc',
    "zsh": 'hpo completion zsh > "${fpath[1]}/_hpo"   # then restart zsh',
    "tcsh": "eval `hpo completion tcsh`   # in ~/.tcshrc",
}


def _completion(args: argparse.Namespace) -> int:
    import shtab

    from hpo.cli import build_parser

    print(shtab.complete(build_parser(), shell=args.shell))
    return 0


def register(sub: Any) -> None:
    c = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, tcsh)",
        description="Print the completion script of `hpo` for a shell. Install it with:\n  "
        + "\n  ".join(INSTALL.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    c.set_defaults(func=_completion)
