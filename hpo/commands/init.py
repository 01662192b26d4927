"""`hpo init SRC`: inspect a dataset and write a study file with defaults chosen from it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpo.init.defaults import Timer
    from hpo.init.survey import Survey
    from hpo.init.templates import Template
    from hpo.init.timing import StepTiming
    from hpo.model.space import CNNParams

__all__ = ["register"]


def _int_in(lo: int, hi: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _timer(args: argparse.Namespace, template: Template, found: Survey) -> tuple[Timer | None, str]:
    """The timing run's function (None where the preset is not timed) and why not."""
    if args.no_timing:
        return None, "--no-timing"
    from hpo.init.timing import gpu_visible, sample_images, time_network

    if template.timing == "gpu" and not gpu_visible():
        return None, f"no GPU here; the '{template.name}' template's study runs on GPU workers"
    mixed = template.timing == "gpu"

    def timer(params: CNNParams, size: int) -> StepTiming | None:
        try:
            timing = time_network(params, sample_images(found, size), len(found.counts), mixed_precision=mixed)
        except Exception as exc:  # out of memory, a TensorFlow error: the study is still written, untimed
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            print(f"Timing run failed ({type(exc).__name__}: {first}) — budget from the template, not timed")
            return None
        print(f"Timed: {timing.describe()}")
        return timing

    return timer, ""


def _init(args: argparse.Namespace) -> int:
    from hpo.init.defaults import choose_defaults
    from hpo.init.scaffold import check_out, dataset_name, format_defaults, render, study_name, write_study
    from hpo.init.survey import format_survey, survey
    from hpo.init.templates import load_template

    template = load_template(args.template)  # before the scan: a typo fails at once
    src = Path(args.src)
    out = Path(args.out) if args.out else Path("studies") / f"{dataset_name(src)}.toml"
    check_out(out, force=args.force)  # before scanning a large dataset
    found = survey(src)
    print(format_survey(found))
    timer, untimed = _timer(args, template, found)
    defaults = choose_defaults(
        found,
        template,
        image_size=args.image_size,
        max_epochs=args.max_epochs,
        n_trials=args.n_trials,
        minutes=args.minutes,
        flip=args.flip,
        timer=timer,
        untimed=untimed,
    )
    print(f"Defaults (template '{template.name}'):")
    print(format_defaults(defaults))
    name = study_name(out.stem)
    write_study(render(template, defaults, found, name, out), out, force=args.force)
    if (out.parent / f"{name}.db").exists():
        print(f"Note: {out.parent / f'{name}.db'} already holds study '{name}'; `hpo search` resumes it")
    print(f"Wrote {out}. Next: hpo search {out}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="inspect a dataset and write a study file with defaults chosen from it",
        description=(
            "Scan SRC/<class>/** (or Kaggle's SRC/raw-img/<class>/) once, reading image sizes from file "
            "headers, print the classes, counts and sizes, and write a commented study file: image size "
            "from the median image, splits that leave every class a validation image, a head start (the "
            "recipe measured on cifar10-mini, scaled to the image and dataset size, enqueued as trial 1) "
            "with [search] ranges around it, and a budget: the timeout (--minutes), and the preset's width, "
            "max_epochs, pruner and trial cap fitted to it from a few training steps timed here (seconds). "
            "Templates: default (CPU-friendly) or gpu (larger images, mixed precision, timed only where a "
            "GPU is visible)."
        ),
    )
    p.add_argument("src", metavar="SRC", help="dataset folder with one sub-folder per class")
    p.add_argument("--out", metavar="FILE", help="study file to write (default studies/<SRC folder name>.toml)")
    p.add_argument("--template", default="default", metavar="NAME", help="study template: default or gpu")
    p.add_argument("--n-trials", type=_int_in(1, 1_000_000), metavar="N", help="trial budget (default: the template's)")
    p.add_argument(
        "--max-epochs", type=_int_in(1, 10_000), metavar="N", help="epochs per trial (default: from the data)"
    )
    p.add_argument("--image-size", type=_int_in(8, 1024), metavar="PX", help="square side (8..1024)")
    p.add_argument(
        "--minutes",
        type=_int_in(1, 100_000),
        metavar="M",
        help="the search's budget: no trial starts after M minutes (default: the template's, 20 on a CPU)",
    )
    p.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random horizontal flips in the preset and [search] (default: on unless a class name gives a side, "
        "as left/right, or every class name is one character)",
    )
    p.add_argument(
        "--no-timing",
        action="store_true",
        help="do not time the preset here (epochs from the dataset size, the template's width and trial cap)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing study file")
    p.set_defaults(func=_init)
