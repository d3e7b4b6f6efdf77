"""Binary classification data for CodedPrivateML and its baselines, prepared one consistent way.

Every loader returns a :class:`Dataset`: a seeded, stratified train/test split; features mapped to
[0, 1] (pixel intensities divided by their maximum for images, min-max with the *training*
minimum and maximum for tabular features, test values clipped into [0, 1]), tabular features then
centred by their training mean (so |x| <= 1 throughout); a bias column of ones
appended last (seed 004 sec. V: 3072 CIFAR-10 pixels + 1 = 3073 features); labels in {0, 1}.
Bounded features are what lets the fixed-point analysis of
:mod:`pyprivml.protocols.fixedpoint` prove, before training, that nothing wraps around mod p.

* :func:`load_digits49`: scikit-learn's 8x8 digits, 4 against 9 (the task of GISETTE) — 64 + 1
  features, label 1 for a 9.
* :func:`load_breast_cancer`: scikit-learn's Wisconsin breast cancer — 30 + 1 features, label 1
  for malignant.
* :func:`make_synthetic`: m x d Gaussian data labelled by a random hyperplane, for scaling runs.

>>> ds = load_digits49()
>>> ds.X_train.shape[1], bool(ds.X_train.min() >= 0), bool(ds.X_train.max() <= 1), bool((ds.X_train[:, -1] == 1).all())
(65, True, True, True)
>>> sorted(set(ds.y_train.tolist()))
[0.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "prepare", "load_digits49", "load_breast_cancer", "make_synthetic", "split"]


@dataclass
class Dataset:
    """A prepared binary classification task: features in [0, 1] plus a bias column, labels 0/1."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(m, d) of the training set, d counting the bias column."""
        return self.X_train.shape

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train {self.X_train.shape}, test {self.X_test.shape}, "
                f"positives {self.y_train.mean():.2f})")


def split(n: int, test_size: float, y=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded train/test split, stratified by y when it is given."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    if y is None:
        groups = [np.arange(n)]
    else:
        y = np.asarray(y)
        groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    train, test = [], []
    for g in groups:
        g = rng.permutation(g)
        k = int(round(len(g) * test_size))
        test.append(g[:k])
        train.append(g[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _check_finite(name: str, what: str, X: np.ndarray) -> None:
    if not np.isfinite(X).all():
        where = np.argwhere(~np.isfinite(X))[0].tolist()
        raise ValueError(f"{name}: {what} contains NaN or infinity (first at index {where}); "
                         f"impute or drop those samples first")


def _with_bias(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((X.shape[0], 1))])


def prepare(name: str, X, y, *, test_size: float = 0.2, seed: int = 0, scale: float | None = None,
            center: bool = False, bias: bool = True, X_test=None, y_test=None,
            info: dict | None = None) -> Dataset:
    """Split (unless X_test/y_test are given), map features into [0, 1], add the bias column.

    ``scale`` divides every feature by one number (images: the largest intensity); None uses the
    per-feature min-max of the training part. ``center`` then subtracts the training mean of each
    feature (values stay in [-1, 1]; gradient descent converges much faster on centred tabular
    data). Labels must be two classes, mapped to 0 and 1 in sorted order (or already 0/1).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"{name}: X must be (m, d) and y (m,), got {X.shape} and {y.shape}")
    if (X_test is None) != (y_test is None):
        raise ValueError(f"{name}: give both X_test and y_test, or neither (then test_size splits X)")
    if X_test is not None:
        X_test, y_test = np.asarray(X_test, dtype=np.float64), np.asarray(y_test)
        if X_test.ndim != 2 or X_test.shape[1] != X.shape[1] or y_test.shape != (X_test.shape[0],):
            raise ValueError(f"{name}: X_test must be (n, {X.shape[1]}) like X and y_test (n,), "
                             f"got {X_test.shape} and {y_test.shape}")
        _check_finite(name, "X_test", X_test)
    _check_finite(name, "X", X)
    if scale is not None and not 0 < scale < np.inf:
        raise ValueError(f"{name}: scale must be a finite positive number (or None for min-max), got {scale!r}")
    labels = y if y_test is None else np.concatenate([y, y_test])
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise ValueError(f"{name}: the labels contain NaN or infinity")
    classes = np.unique(labels)
    if classes.size != 2:
        raise ValueError(f"{name}: binary classification needs exactly two labels, got {classes.tolist()}")
    if X_test is None:
        tr, te = split(X.shape[0], test_size, y, seed)
        X, X_test, y, y_test = X[tr], X[te], y[tr], y[te]
    X_test = np.asarray(X_test, dtype=np.float64)
    y_test = np.asarray(y_test)
    if scale is not None:
        X, X_test = X / scale, X_test / scale
        lo_hi = (0.0, float(scale))
    else:
        lo, hi = X.min(axis=0), X.max(axis=0)
        width = np.where(hi > lo, hi - lo, 1.0)
        X, X_test = (X - lo) / width, (X_test - lo) / width
        lo_hi = "per-feature min-max of the training set"
    X_test = np.clip(X_test, 0.0, 1.0)
    if center:
        mean = X.mean(axis=0)
        X, X_test = X - mean, X_test - mean
    if bias:
        X, X_test = _with_bias(X), _with_bias(X_test)
    to01 = lambda v: (np.asarray(v) == classes[1]).astype(np.float64)  # noqa: E731
    meta = {"classes": classes.tolist(), "scaling": lo_hi, "centered": center, "bias": bias, "test_size": test_size, "seed": seed}
    meta.update(info or {})
    return Dataset(name, np.ascontiguousarray(X), to01(y), np.ascontiguousarray(X_test), to01(y_test), meta)


def load_digits49(*, test_size: float = 0.2, seed: int = 0, bias: bool = True) -> Dataset:
    """scikit-learn's digits, 4 (label 0) against 9 (label 1); pixels 0..16 divided by 16."""
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = np.isin(d.target, (4, 9))
    return prepare("digits49", d.data[keep], d.target[keep], test_size=test_size, seed=seed, scale=16.0,
                   bias=bias, info={"source": "sklearn.datasets.load_digits, classes 4 and 9"})


def load_breast_cancer(*, test_size: float = 0.2, seed: int = 0, bias: bool = True) -> Dataset:
    """scikit-learn's breast cancer data; label 1 for malignant; per-feature min-max, centred."""
    from sklearn.datasets import load_breast_cancer as _load

    d = _load()
    y = 1 - d.target  # sklearn: 0 = malignant, 1 = benign
    return prepare("breast_cancer", d.data, y, test_size=test_size, seed=seed, center=True, bias=bias,
                   info={"source": "sklearn.datasets.load_breast_cancer, 1 = malignant"})


def make_synthetic(m: int = 1000, d: int = 50, *, test_size: float = 0.2, seed: int = 0,
                   noise: float = 0.1, bias: bool = True) -> Dataset:
    """m x d standard Gaussian points labelled by a random hyperplane (labels flipped with
    probability ``noise``), then min-max scaled like the other sets: for scaling runs."""
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (m, d)) or m < 4 or d < 1:
        raise ValueError(f"make_synthetic needs integers m >= 4 and d >= 1, got m = {m!r}, d = {d!r}")
    if not 0 <= noise <= 0.5:
        raise ValueError(f"noise is the label-flip probability, in [0, 0.5], got {noise!r}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, d))
    w = rng.standard_normal(d)
    y = (X @ w > 0).astype(int)
    flip = rng.random(m) < noise
    y[flip] = 1 - y[flip]
    if np.unique(y).size < 2:
        y[0] = 1 - y[0]
    return prepare("synthetic", X, y, test_size=test_size, seed=seed, center=True, bias=bias,
                   info={"m": m, "d": d, "noise": noise})
