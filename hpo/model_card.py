"""MODEL_CARD.md for an export: data, parameters, metrics, intended use, limitations."""

from __future__ import annotations

from typing import Any

from hpo.data.scan import ANIMALS10_LABELS

__all__ = ["model_card"]


def _table(rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return out


def model_card(metrics: dict[str, Any], labels: list[dict[str, Any]]) -> str:
    """The card's Markdown text, from what `hpo export` measured."""
    names = {item["name"] for item in labels}
    is_animals10 = names == set(ANIMALS10_LABELS)
    sizes = metrics["split_sizes"]
    lines = [
        f"# Model card: {metrics['study']} (trial {metrics['trial']})",
        "",
        "## Model",
        f"A from-scratch CNN found by an Optuna search (`hpo`), trial {metrics['trial']}"
        f"{' — the seed baseline' if metrics.get('baseline') else ''}, retrained on train+val for "
        f"{metrics['epochs']} epochs ({metrics['training_seconds']:.0f} s). "
        f"{metrics['param_count']:,} parameters. Input: RGB images "
        f"{metrics['image_size']}x{metrics['image_size']}, raw 0-255 pixels (float32); scaling is "
        "inside the model. Output: probabilities over the classes in `labels.json`.",
        "",
        "Hyperparameters:",
        "",
        *_table([["parameter", "value"], *[[k, str(v)] for k, v in metrics["params"].items()]]),
        "",
        "## Data",
        f"Source: `{metrics['source']}`; {sizes['train']} train / {sizes['val']} val / {sizes['test']} test "
        "images, stratified by class, exact duplicates removed. Images are resized shorter-side-first "
        "and centre-cropped (`preprocess.json`).",
        "",
        "## Metrics (test split, scored once)",
        f"Accuracy **{metrics['test_accuracy']:.4f}**, macro F1 {metrics['test']['macro_f1']:.4f}.",
        "",
        *_table(
            [["class", "precision", "recall", "F1", "n"]]
            + [
                [
                    c["label"],
                    f"{c['precision']:.3f}",
                    f"{c['recall']:.3f}",
                    f"{c['f1']:.3f}",
                    str(c["support"]),
                ]
                for c in metrics["test"]["per_class"]
            ]
        ),
    ]
    if metrics.get("tflite"):
        lines += ["", "TFLite variants:", ""]
        lines += _table(
            [["file", "size (MB)", "test accuracy"]]
            + [[v["file"], f"{v['size_mb']:.3f}", f"{v['test_accuracy']:.4f}"] for v in metrics["tflite"].values()]
        )
    lines += [
        "",
        "## Intended use",
        "Classifying photos into the classes above, as a baseline or for experiments. Not for decisions "
        "about people, safety or anything where a wrong label causes harm.",
        "",
        "## Limitations",
        "- Trained from scratch on a small dataset at low resolution; expect errors on classes that look "
        "alike and on images unlike the training photos (drawings, close-ups, several animals).",
        "- Every input is forced into one of the known classes: there is no 'none of these' answer.",
    ]
    if is_animals10:
        lines += [
            "- Animals-10 is scraped web images with about 2 % wrong labels; test accuracy is measured "
            "against those labels, so it is noisy too.",
            "- Class balance is uneven (dog ~4,900 vs. elephant ~1,450 images).",
        ]
    return "\n".join(lines) + "\n"
