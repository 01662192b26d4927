"""What an export says about itself: MODEL_CARD.md (data, parameters, metrics, intended use,
limitations) and ``preprocess.json`` (how to turn an image into the model's input, in words and
fields a consumer can follow without hpo)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hpo.ablate.path import Path as AblationPath
from hpo.ablate.store import Plan
from hpo.ablate.table import top_settings
from hpo.data.decode import RESIZE_MODE
from hpo.data.prepared import ClassInfo
from hpo.data.scan import ANIMALS10_LABELS
from hpo.records.export import LABELS_FILE, ExportMetrics

__all__ = ["PREPROCESS_FORMAT", "model_card", "model_sentence", "preprocess_contract"]

PREPROCESS_FORMAT = 2  # 1 (no "format" key): image_size, channels, resize, input, decode
REDUCING_GAP = 3.0  # what `hpo.data.decode.fit_square` passes to Pillow's Image.resize


def preprocess_contract(image_size: int, n_classes: int) -> dict[str, Any]:
    """``preprocess.json``: the contract of `hpo.data.decode` and `hpo.model.cnn.build_cnn`, stated
    so that a program in any language can prepare images exactly as the model saw them."""
    s = image_size
    summary = (
        f"Decode the image file, apply its EXIF orientation, convert it to RGB (transparent pixels on white), "
        f"scale its shorter side to {s} px with Pillow's antialiased bicubic filter, keep the centre {s}x{s} "
        f"square, and feed the 0-255 pixel values unscaled as float32 [N, {s}, {s}, 3] (NHWC, channels R, G, B). "
        f"The model returns [N, {n_classes}] class probabilities in the order of labels.json."
    )
    return {
        "format": PREPROCESS_FORMAT,
        "summary": summary,
        "image_size": s,
        "steps": [
            "Decode the file (JPEG, PNG, WebP, BMP, GIF: its first frame, ...).",
            "Apply the EXIF Orientation tag (rotate/flip as the camera recorded; Pillow: ImageOps.exif_transpose).",
            "Convert to 8-bit RGB: an alpha channel or a palette's transparent colour is composited on opaque "
            "white (255, 255, 255); greyscale, palette and CMYK images are converted; 16-bit and 32-bit "
            "greyscale is scaled to 8 bits (see bit_depth).",
            f"Scale the shorter side to {s} px, keeping the aspect ratio, and keep the centre {s}x{s} square "
            "(the longer side is cut equally at both ends), with Pillow's antialiased bicubic filter.",
            f"Stack the images into a float32 array [N, {s}, {s}, 3] holding the 0-255 pixel values as they are: "
            "no division by 255, no mean/std normalisation (the model rescales by 1/255 as its first layer).",
            f"Read the output [N, {n_classes}] as softmax probabilities; column i is the class with index i "
            "in labels.json.",
        ],
        "orientation": "EXIF Orientation tag applied",
        "alpha": "composited on white (255, 255, 255)",
        "bit_depth": (
            "8 bits per channel; a 16-bit or 32-bit greyscale value v becomes round(v * 255 / 65535), or v "
            "itself when no value in the image exceeds 255 (a float image whose values are at most 1: "
            "round(v * 255)), then grey R = G = B"
        ),
        "channel_order": "RGB",
        "resize": {
            "rule": RESIZE_MODE,
            "shorter_side": s,
            "crop": "centre",
            "filter": "bicubic, antialiased",
            "library": "Pillow",
            "reducing_gap": REDUCING_GAP,
            "jpeg_draft": True,
            "pillow": (
                f"side = min(w, h); box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2); "
                f"img.resize(({s}, {s}), Image.Resampling.BICUBIC, box=box, reducing_gap={REDUCING_GAP}). "
                f"JPEG files are opened with img.draft(img.mode, ({s}, {s})) first (libjpeg's DCT downscale, "
                f"never below {s} px), as in training."
            ),
        },
        "input": {
            "layout": "NHWC",
            "shape": [None, s, s, 3],
            "dtype": "float32",
            "pixel_values": "0-255 (the uint8 pixel values, unscaled)",
            "scaling": "inside the model (x / 255)",
        },
        "output": {"shape": [None, n_classes], "values": "probabilities (softmax)", "labels": LABELS_FILE},
    }


def _table(rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return out


def _where(path: str) -> str:
    return "" if not path or Path(path).is_absolute() else " (from this folder)"


def model_sentence(family: str) -> str:
    """What kind of model the card describes, from `ExportMetrics.family`: hpo's own CNN
    (``"cnn"``), a ``keras.applications`` backbone by name, or a user builder's ``"module:function"``."""
    if family == "cnn":
        return "A from-scratch CNN found by an Optuna search"
    if ":" in family:
        return f"A model built by your `{family}`, trained by an Optuna search"
    return f"An ImageNet-pretrained {family} backbone with a searched head, fine-tuned by an Optuna search"


def _training(m: ExportMetrics) -> str:
    if m.members and len(m.members) > 1:
        return (
            f"averaged with trials {', '.join(map(str, m.members[1:]))} (an ensemble of {len(m.members)} trials' "
            f"own weights from the search, trained on train only, chosen on val: {m.ensemble_val_accuracy:.4f}); "
            f"the hyperparameters below are trial {m.trial}'s"
        )
    if m.from_trial:
        return f"trained on train only, epoch {m.epochs} (the trial's own weights from the search, not retrained)"
    return f"retrained on train+val for {m.epochs} epochs ({m.training_seconds:.0f} s)"


def _mattered(plan: Plan, path: AblationPath) -> list[str]:
    """The card's "What mattered": the three steps of the study's ablation path that gained most."""
    top = top_settings(plan, path, 3)
    done = "" if path.complete else f" (it stopped after step {len(path.steps) - 1}, before the target)"
    lines = ["", "## What mattered", f"Measured by `hpo ablate` from {plan.source} to trial {plan.target}{done}, "
             f"{len(plan.seeds)} seed(s) per configuration, val accuracy:", ""]  # fmt: skip
    lines += [f"{i}. {r.change}: {100 * r.gain:+.1f} points" for i, r in enumerate(top, 1)]
    return lines if top else [*lines, "No step of the path gained val accuracy."]


def model_card(
    metrics: ExportMetrics, labels: Sequence[ClassInfo], ablation: tuple[Plan, AblationPath] | None = None
) -> str:
    """The card's Markdown text, from what `hpo export` measured; ``ablation``: the study's
    ablation plan and path (`hpo.ablate.store.stored_path`), whose largest gains it names."""
    m = metrics
    names = {item.name for item in labels}
    is_animals10 = names == set(ANIMALS10_LABELS)
    sizes = m.split_sizes
    lines = [
        f"# Model card: {m.study} (trial {m.trial})",
        "",
        "## Model",
        f"{model_sentence(m.family)} (`hpo`), trial {m.trial}"
        f"{' — the seed baseline' if m.baseline else ''}, {_training(m)}. {m.param_count:,} parameters.",
        "",
        "Input and output (`preprocess.json` holds the same contract as fields): "
        + preprocess_contract(m.image_size, len(labels))["summary"],
        "",
        "Hyperparameters:",
        "",
        *_table([["parameter", "value"], *[[k, str(v)] for k, v in m.params.items()]]),
        "",
        "## Data",
        f"Source: `{m.source}`{_where(m.source)}; {sizes.get('train', 0)} train / {sizes.get('val', 0)} val / "
        f"{sizes.get('test', 0)} test images, stratified by class, exact duplicates removed.",
        "",
        "## Metrics (test split, scored once)",
        f"Accuracy **{m.test_accuracy:.4f}**, macro F1 {m.test.macro_f1:.4f}.",
        "",
        *_table(
            [["class", "precision", "recall", "F1", "n"]]
            + [
                [c.label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.support)]
                for c in m.test.per_class
            ]
        ),
    ]
    if ablation is not None:
        lines += _mattered(*ablation)
    if m.tflite:
        lines += ["", "TFLite variants:", ""]
        lines += _table(
            [["file", "size (MB)", "test accuracy"]]
            + [[v.file, f"{v.size_mb:.3f}", f"{v.test_accuracy:.4f}"] for v in m.tflite.values()]
        )
    lines += [
        "",
        "## Intended use",
        "Classifying photos into the classes above, as a baseline or for experiments. Not for decisions "
        "about people, safety or anything where a wrong label causes harm.",
        "",
        "## Limitations",
        f"- {'Trained from scratch' if m.family == 'cnn' else 'Trained'} on a small dataset at low resolution; "
        "expect errors on classes that look alike and on images unlike the training photos (drawings, "
        "close-ups, several animals).",
        "- Every input is forced into one of the known classes: there is no 'none of these' answer.",
    ]
    if is_animals10:
        lines += [
            "- Animals-10 is scraped web images with about 2 % wrong labels; test accuracy is measured "
            "against those labels, so it is noisy too.",
            "- Class balance is uneven (dog ~4,900 vs. elephant ~1,450 images).",
        ]
    return "\n".join(lines) + "\n"
