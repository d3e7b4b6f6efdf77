"""Data loaders: bundled sets, synthetic data, and the CIFAR-10 / GISETTE formats on small files written here."""

import pickle

import numpy as np
import pytest

from pyprivml.data import (get_dataset, load_breast_cancer, load_cifar10_binary, load_digits49, load_gisette,
                           make_synthetic, prepare, split)


def _check_prepared(ds, d):
    assert ds.X_train.shape[1] == ds.X_test.shape[1] == d
    for X in (ds.X_train, ds.X_test):
        assert np.all(X[:, -1] == 1.0)  # the bias column
        assert np.abs(X).max() <= 1.0
    assert set(np.unique(ds.y_train)) == {0.0, 1.0} and set(np.unique(ds.y_test)) <= {0.0, 1.0}


def test_digits49_is_4_against_9():
    from sklearn.datasets import load_digits

    ds = load_digits49()
    digits = load_digits()
    n49 = int(np.isin(digits.target, (4, 9)).sum())
    assert len(ds.y_train) + len(ds.y_test) == n49
    _check_prepared(ds, 65)
    assert ds.X_train[:, :-1].min() >= 0  # pixels / 16, not centred
    # A 9 is label 1: the first 9 of the data set appears with label 1.
    nine = digits.data[digits.target == 9][0] / 16
    rows = np.vstack([ds.X_train, ds.X_test])[:, :-1]
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert labels[np.flatnonzero((rows == nine).all(axis=1))[0]] == 1.0


def test_breast_cancer_is_centred_min_max_with_malignant_as_1():
    ds = load_breast_cancer()
    _check_prepared(ds, 31)
    np.testing.assert_allclose(ds.X_train[:, :-1].mean(axis=0), 0, atol=1e-12)
    assert 0.3 < ds.y_train.mean() < 0.45  # 212 malignant of 569
    assert len(ds.y_train) + len(ds.y_test) == 569 and len(ds.y_test) == round(212 * 0.2) + round(357 * 0.2)


def test_split_is_stratified_seeded_and_disjoint():
    y = np.array([0] * 30 + [1] * 70)
    tr, te = split(100, 0.2, y, seed=4)
    assert len(te) == 20 and (y[te] == 1).sum() == 14
    assert not set(tr) & set(te) and len(tr) + len(te) == 100
    np.testing.assert_array_equal(split(100, 0.2, y, seed=4)[1], te)
    assert not np.array_equal(split(100, 0.2, y, seed=5)[1], te)
    with pytest.raises(ValueError, match="test_size"):
        split(10, 1.5)


def test_synthetic_has_the_requested_size():
    ds = make_synthetic(200, 7, seed=1)
    assert ds.X_train.shape == (160, 8) and ds.X_test.shape == (40, 8)
    _check_prepared(ds, 8)
    with pytest.raises(ValueError, match="m >= 4"):
        make_synthetic(2, 3)


def test_prepare_rejects_bad_input():
    with pytest.raises(ValueError, match="exactly two labels"):
        prepare("x", np.zeros((6, 2)), np.arange(6) % 3)
    with pytest.raises(ValueError, match=r"X must be \(m, d\)"):
        prepare("x", np.zeros(6), np.arange(6) % 2)


def _write_cifar(root, per_batch=12, seed=0):
    rng = np.random.default_rng(seed)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        labels[:2] = [0, 1]  # both classes present in every batch
        with open(root / name, "wb") as fh:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * per_batch}, fh)
        batches[name] = (data, np.array(labels))
    return batches


def test_cifar10_python_batches_plane_vs_car(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    batches = _write_cifar(root)
    ds = load_cifar10_binary(tmp_path)  # finds the cifar-10-batches-py folder
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    data = np.concatenate([b[0] for b in train])
    labels = np.concatenate([b[1] for b in train])
    keep = np.isin(labels, (0, 1))
    assert ds.X_train.shape == (keep.sum(), 3073)
    np.testing.assert_allclose(ds.X_train[:, :-1], data[keep] / 255.0)
    np.testing.assert_array_equal(ds.y_train, labels[keep])  # automobile (1) is label 1
    test_keep = np.isin(batches["test_batch"][1], (0, 1))
    assert ds.X_test.shape == (test_keep.sum(), 3073)
    _check_prepared(ds, 3073)
    # Other classes: ship (8) against truck (9), the second class is label 1.
    other = load_cifar10_binary(root, classes=(9, 8))
    assert other.info["classes_named"] == ["truck", "ship"]


def test_cifar10_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CIFAR-10 python batches"):
        load_cifar10_binary(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps([1, 2, 3]))
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="not a CIFAR-10 python batch"):
        load_cifar10_binary(tmp_path)
    with pytest.raises(ValueError, match="two different CIFAR-10 labels"):
        load_cifar10_binary(tmp_path, classes=(3, 3))


def _write_gisette(root, name, m, d, rng):
    X = rng.integers(0, 1000, size=(m, d))
    y = np.where(np.arange(m) % 2 == 0, 1, -1)
    np.savetxt(root / f"gisette_{name}.data", X, fmt="%d", delimiter=" ")
    np.savetxt(root / f"gisette_{name}.labels", y, fmt="%d")
    return X, y


def test_gisette_text_files_with_and_without_validation_labels(tmp_path):
    rng = np.random.default_rng(2)
    X, y = _write_gisette(tmp_path, "train", 28, 9, rng)
    ds = load_gisette(tmp_path)  # no valid files: a seeded split of train
    assert ds.X_train.shape[0] + ds.X_test.shape[0] == 28 and ds.X_train.shape[1] == 10
    _check_prepared(ds, 10)
    Xv, yv = _write_gisette(tmp_path, "valid", 6, 9, rng)
    ds = load_gisette(tmp_path)
    np.testing.assert_allclose(ds.X_train[:, :-1], X / 999.0)
    np.testing.assert_array_equal(ds.y_train, (y > 0).astype(float))
    np.testing.assert_allclose(ds.X_test[:, :-1], Xv / 999.0)
    assert get_dataset("gisette", path=tmp_path).X_test.shape == (6, 10)


def test_gisette_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="gisette_train.data"):
        load_gisette(tmp_path)
    np.savetxt(tmp_path / "gisette_train.data", np.ones((3, 2)), fmt="%d")
    np.savetxt(tmp_path / "gisette_train.labels", np.array([1, 0, -1]), fmt="%d")
    with pytest.raises(ValueError, match="labels are 1 or -1"):
        load_gisette(tmp_path)
    np.savetxt(tmp_path / "gisette_train.labels", np.array([1, -1]), fmt="%d")
    with pytest.raises(ValueError, match="3 rows but"):
        load_gisette(tmp_path)


def test_get_dataset_names():
    assert get_dataset("digits49").name == "digits49"
    assert get_dataset("breast-cancer").name == "breast_cancer"
    assert get_dataset("synthetic", m=50, d=3).X_train.shape == (40, 4)
    with pytest.raises(ValueError, match="give their directory"):
        get_dataset("cifar10")
    with pytest.raises(ValueError, match="valid: digits49"):
        get_dataset("mnist")


def test_cifar10_like_has_the_seeds_shape_range_and_bias_column():
    from pyprivml.data import make_cifar10_like

    ds = make_cifar10_like(60, 20, seed=3)
    assert ds.X_train.shape == (60, 3073) and ds.X_test.shape == (20, 3073)
    pixels = ds.X_train[:, :-1]
    assert pixels.min() >= 0 and pixels.max() <= 1 and 0.4 < pixels.mean() < 0.55
    assert (ds.X_train[:, -1] == 1).all() and (ds.X_test[:, -1] == 1).all()
    assert set(np.unique(ds.y_train)) == {0, 1}
    assert np.array_equal(make_cifar10_like(60, 20, seed=3).X_train, ds.X_train)
    with pytest.raises(ValueError, match="m >= 2"):
        make_cifar10_like(1, 5)
