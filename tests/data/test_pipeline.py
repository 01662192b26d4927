from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpo.data import load_prepared
from hpo.errors import DataError


def test_train_batches_are_uint8_shuffled_and_complete(prepared: Path) -> None:
    from hpo.data.pipeline import make_dataset

    data = load_prepared(prepared)
    ds = make_dataset(data, "train", 16, shuffle=True, seed=0)
    assert ds.element_spec[0].dtype.name == "uint8"
    epoch1 = [(x.numpy(), y.numpy()) for x, y in ds]
    epoch2 = [(x.numpy(), y.numpy()) for x, y in ds]
    n_train = len(data.splits["train"])
    assert sum(len(y) for _, y in epoch1) == n_train
    assert epoch1[0][0].shape[1:] == (32, 32, 3)
    # every training image exactly once per epoch, reshuffled between epochs
    images, labels = data.arrays("train")
    got = np.concatenate([x for x, _ in epoch1])
    assert sorted(map(bytes, got)) == sorted(map(bytes, images))
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(epoch1, epoch2, strict=True))
    # labels travel with their images
    lookup = {bytes(img): lab for img, lab in zip(images, labels, strict=True)}
    for x, y in epoch1:
        assert [lookup[bytes(img)] for img in x] == list(y)


def test_eval_pipeline_keeps_manifest_order(prepared: Path) -> None:
    from hpo.data.pipeline import make_dataset

    data = load_prepared(prepared)
    batches = [(x.numpy(), y.numpy()) for x, y in make_dataset(data, ("val", "test"), 7)]
    xs, ys = [b[0] for b in batches], [b[1] for b in batches]
    images, labels = data.arrays("val", "test")
    np.testing.assert_array_equal(np.concatenate(xs), images)
    np.testing.assert_array_equal(np.concatenate(ys), labels)


def test_missing_cache_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="hpo data prepare"):
        load_prepared(tmp_path)


def test_unknown_split_is_an_error(prepared: Path) -> None:
    with pytest.raises(DataError, match="unknown split 'dev'"):
        load_prepared(prepared).indices("dev")
