"""`hpo data prepare | synth | fetch`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hpo.config.schema import DataConfig

__all__ = ["register"]


def _prepare(args: argparse.Namespace) -> int:
    from hpo.data.prepare import format_summary, prepare

    result = prepare(
        Path(args.src),
        Path(args.out),
        image_size=args.image_size,
        val=args.val,
        test=args.test,
        seed=args.seed,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(format_summary(result))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from hpo.data.synth import synth_dataset

    names = synth_dataset(
        Path(args.out),
        classes=args.classes,
        per_class=args.per_class,
        image_size=args.image_size,
        seed=args.seed,
    )
    print(f"Wrote {len(names) * args.per_class} images in {len(names)} classes to {args.out}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from hpo.data.fetch import fetch

    out = Path(args.out or f"data/{args.name}")
    path = fetch(args.name, out)
    print(f"{args.name} is in {path}; next: hpo data prepare {path} --out {path}-64")
    return 0


def register(sub: Any) -> None:
    data = sub.add_parser("data", help="prepare, generate or download datasets", description="Datasets.")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    p = dsub.add_parser(
        "prepare",
        help="validate, decode once, split and cache a class-folder dataset",
        description=(
            "Scan SRC/<class>/** (or Kaggle's SRC/raw-img/<class>/; at least two classes), decode "
            "every image once (any mode -> RGB; shorter side resized, centre-cropped to a square), "
            "skip and list broken files and links, drop exact duplicates, split train/val/test per "
            "class (seeded), and write OUT/images.npy (uint8), OUT/manifest.json (written last: it "
            "commits the cache) and OUT/report.json. Re-running reuses the cache and decodes only "
            "new files; an interrupted cache is detected and rebuilt."
        ),
    )
    p.add_argument("src", metavar="SRC", help="dataset folder with one sub-folder per class")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="output folder: new, empty or prepared by hpo (not inside SRC)"
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=DataConfig.image_size,
        metavar="PX",
        help="square side in pixels (default %(default)s)",
    )
    p.add_argument(
        "--val", type=float, default=DataConfig.val, help="validation fraction per class (default %(default)s)"
    )
    p.add_argument("--test", type=float, default=DataConfig.test, help="test fraction per class (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_prepare)

    s = dsub.add_parser(
        "synth",
        help="write a small synthetic class-folder dataset (no download)",
        description=(
            "Deterministic, learnable JPEG dataset: one shape per class, with colour, position and noise jitter."
        ),
    )
    s.add_argument("out", metavar="OUT", help="output folder")
    s.add_argument("--classes", type=int, default=10, help="number of classes (default 10)")
    s.add_argument("--per-class", type=int, default=100, help="images per class (default 100)")
    s.add_argument("--image-size", type=int, default=64, metavar="PX", help="image side (default 64)")
    s.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    s.set_defaults(func=_synth)

    f = dsub.add_parser(
        "fetch",
        help="download a public dataset (Animals-10) with kagglehub",
        description="Download Animals-10 from Kaggle (needs the 'kaggle' extra and network).",
    )
    f.add_argument("name", choices=["animals10"], help="dataset name")
    f.add_argument("--out", default=None, metavar="DIR", help="destination (default data/NAME)")
    f.set_defaults(func=_fetch)
