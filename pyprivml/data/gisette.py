"""GISETTE (NIPS 2003 feature selection challenge: 4 against 9, 5000 features) from its text files.

The distribution has ``gisette_train.data`` (one image per line, 5000 space-separated integers in
0..999) with ``gisette_train.labels`` (one ``1`` or ``-1`` per line), and ``gisette_valid.data``
with ``gisette_valid.labels`` (the labels ship separately). The seed trains on 6000 images and
tests on 1000. We use the validation files as the test set when both exist, else a seeded split
of the training files; features are divided by 999 and a bias column is appended (5001 features).
Label 1 is the challenge's positive class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .classification import Dataset, prepare

__all__ = ["load_gisette", "read_gisette_split"]

_MAX_VALUE = 999.0


def read_gisette_split(data_file, labels_file) -> tuple[np.ndarray, np.ndarray]:
    """(features m x d as float, labels m in {0, 1}) from one .data/.labels pair."""
    try:
        X = np.loadtxt(data_file, dtype=np.float64, ndmin=2)
        y = np.loadtxt(labels_file, dtype=np.float64, ndmin=1)
    except ValueError as exc:
        raise ValueError(f"{data_file} / {labels_file} are not GISETTE text files (rows of "
                         f"space-separated integers, one label per line): {exc}") from None
    out = ~((X >= 0) & (X <= _MAX_VALUE))  # also catches NaN
    if out.any():
        row, col = np.argwhere(out)[0].tolist()
        raise ValueError(f"{data_file}: GISETTE features are integers in 0..{_MAX_VALUE:.0f}, found "
                         f"{X[row, col]} at row {row + 1}, column {col + 1}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{data_file} has {X.shape[0]} rows but {labels_file} has {y.shape[0]} labels")
    bad = ~np.isin(y, (-1, 1))
    if bad.any():
        raise ValueError(f"{labels_file}: GISETTE labels are 1 or -1, found {np.unique(y[bad])[:5].tolist()}")
    return X, (y > 0).astype(int)


def load_gisette(path, *, test_size: float = 1 / 7, seed: int = 0, bias: bool = True) -> Dataset:
    """GISETTE from the directory ``path`` (gisette_train.data/.labels, optional gisette_valid.*)."""
    root = Path(path)
    train = (root / "gisette_train.data", root / "gisette_train.labels")
    valid = (root / "gisette_valid.data", root / "gisette_valid.labels")
    if not all(f.exists() for f in train):
        raise FileNotFoundError(f"need {train[0].name} and {train[1].name} under {root}")
    X, y = read_gisette_split(*train)
    info = {"path": str(root), "scaling_max": _MAX_VALUE}
    if all(f.exists() for f in valid):
        Xt, yt = read_gisette_split(*valid)
        if Xt.shape[1] != X.shape[1]:
            raise ValueError(f"train has {X.shape[1]} features but valid has {Xt.shape[1]}")
        return prepare("gisette", X, y, X_test=Xt, y_test=yt, scale=_MAX_VALUE, bias=bias, info=info)
    return prepare("gisette", X, y, test_size=test_size, seed=seed, scale=_MAX_VALUE, bias=bias, info=info)
