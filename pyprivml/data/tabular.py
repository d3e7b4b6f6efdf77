"""Tabular data sets of the GAL seed (seed 003, §4.1 and Table 1), split vertically between organisations.

Diabetes, Blob, Wine, BreastCancer and Iris ship with scikit-learn. BostonHousing and QSAR need a
download, so :func:`load_csv_table` reads the user's CSV file (features, then the label in the last
column, or a named label column).

Preprocessing follows the seed's published code: an 80/20 train/test split by a seeded permutation
(the first ``int(0.8 N)`` rows train), features standardised with the *training* mean and standard
deviation, regression targets left in their original units (Table 1 reports the MAD in those units), class labels as integers 0..K-1.
Blob is ``make_blobs(n_samples=100, n_features=10, centers=10, random_state=0)`` as in the seed's code.

>>> d = load_tabular("iris", seed=0)
>>> d.x_train.shape, d.x_test.shape, d.task, d.num_classes
((120, 4), (30, 4), 'classification', 3)
>>> [len(c) for c in split_features(10, 8, seed=0)]  # Diabetes, M = 8: the last takes the rest
[1, 1, 1, 1, 1, 1, 1, 3]
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TASKS = {
    "diabetes": "regression",
    "bostonhousing": "regression",
    "blob": "classification",
    "iris": "classification",
    "wine": "classification",
    "breastcancer": "classification",
    "qsar": "classification",
}
CSV_ONLY = ("bostonhousing", "qsar")


@dataclass
class TabularData:
    """A train/test split. ``y`` is float (regression) or int64 class labels (classification)."""

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int  # 0 for regression

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def output_dim(self) -> int:
        """K, the width of F: 1 for regression, the number of classes for classification."""
        return 1 if self.task == "regression" else self.num_classes


def dataset_key(name: str) -> str:
    """The canonical key of a data set name ("Breast-Cancer" -> "breastcancer"); ValueError if unknown."""
    key = name.lower().replace("_", "").replace("-", "").replace(" ", "")
    if key not in TASKS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(sorted(TASKS))}")
    return key


def raw_builtin(key: str):
    """(X, y) of a built-in data set as scikit-learn ships it, before any split or scaling."""
    from sklearn import datasets

    if key == "diabetes":
        return datasets.load_diabetes(return_X_y=True)
    if key == "blob":
        return datasets.make_blobs(n_samples=100, n_features=10, centers=10, random_state=0)
    if key == "iris":
        return datasets.load_iris(return_X_y=True)
    if key == "wine":
        return datasets.load_wine(return_X_y=True)
    if key == "breastcancer":
        return datasets.load_breast_cancer(return_X_y=True)
    raise ValueError(
        f"{key!r} is not shipped with scikit-learn; load it from its CSV file with "
        f"load_tabular({key!r}, csv_path=...)"
    )


def load_csv_table(path, label_column: str | int = -1, *, numeric_labels: bool = False):
    """Read a numeric CSV file with a header row; return ``(X, y)``.

    ``label_column`` is the header name or the index of the label column (default: the last).
    QSAR biodegradation ships with ``RB``/``NRB`` labels and ';' separators: both are understood.
    ``numeric_labels=True`` (regression targets) refuses text labels instead of numbering them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no CSV file at {path}")
    text = path.read_text()
    delimiter = ";" if text.count(";") > text.count(",") else ","
    rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if r]
    if len(rows) < 2:
        raise ValueError(f"{path}: need a header row and at least one data row")
    header, body = rows[0], rows[1:]
    for i, r in enumerate(body, start=1):
        if len(r) != len(header):
            raise ValueError(f"{path}, data row {i}: {len(r)} fields, but the header has {len(header)} columns")
    if isinstance(label_column, str):
        if label_column not in header:
            raise ValueError(f"{path}: no column {label_column!r}; columns are {header}")
        label_column = header.index(label_column)
    elif not -len(header) <= label_column < len(header):
        raise ValueError(f"{path}: label_column {label_column} is out of range for {len(header)} columns "
                         f"(valid: {-len(header)}..{len(header) - 1} or a header name)")
    label_column = label_column % len(header)
    labels = [r[label_column].strip() for r in body]
    if "" in labels:
        raise ValueError(f"{path}, data row {labels.index('') + 1}: the label ({header[label_column]!r}) is empty")
    try:
        y = np.array([float(v) for v in labels])
    except ValueError as e:
        if numeric_labels:
            raise ValueError(f"{path}: the label column {header[label_column]!r} must be numeric ({e})") from None
        # Text labels (QSAR's RB/NRB): number them in sorted order.
        classes = sorted(set(labels))
        y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    try:
        x = np.array([[float(v) for i, v in enumerate(r) if i != label_column] for r in body])
    except ValueError as e:
        raise ValueError(f"{path}: feature columns must be numeric ({e})") from None
    for what, a in (("a feature", x), ("a label", y)):
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            row = int(np.argwhere(~np.isfinite(a))[0][0]) + 1
            raise ValueError(f"{path}, data row {row}: {what} is NaN or infinite; every value must be a finite number")
    return x, y


def load_tabular(name: str, seed: int = 0, *, csv_path=None, label_column: str | int = -1,
                 test_fraction: float = 0.2) -> TabularData:
    """Load data set ``name`` with the seed's preprocessing, split by permutation ``seed``."""
    key = dataset_key(name)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    if csv_path is not None:
        x, y = load_csv_table(csv_path, label_column, numeric_labels=TASKS[key] == "regression")
    elif key in CSV_ONLY:
        raise ValueError(f"{name} needs a download: pass csv_path= to the file you downloaded")
    else:
        x, y = raw_builtin(key)
    x = np.asarray(x, dtype=np.float64)
    task = TASKS[key]
    perm = np.random.default_rng(seed).permutation(len(x))
    x, y = x[perm], y[perm]
    n_train = int(len(x) * (1.0 - test_fraction))  # the seed's int(0.8 N): Diabetes 353 / 89
    x_train, x_test = x[:n_train], x[n_train:]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0  # a constant training column carries no information; keep it finite
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    if task == "regression":
        y = np.asarray(y, dtype=np.float64)
        num_classes = 0
    else:
        _, y = np.unique(np.asarray(y), return_inverse=True)
        y = y.astype(np.int64)
        num_classes = int(y.max()) + 1
    return TabularData(key, task, x_train, y[:n_train], x_test, y[n_train:], num_classes)


def split_features(num_features: int, num_orgs: int, seed: int = 0) -> list[np.ndarray]:
    """Partition feature indices at random between ``num_orgs`` organisations (seed §4.1).

    As in the seed's code: a random permutation cut into blocks of ``num_features // num_orgs``
    columns, the last organisation taking whatever is left. Organisation 0 is Alice.
    """
    if num_orgs < 1:
        raise ValueError(f"need at least one organisation, got {num_orgs}")
    if num_orgs > num_features:
        raise ValueError(f"cannot split {num_features} features between {num_orgs} organisations: "
                         f"use at most {num_features} organisations")
    perm = np.random.default_rng(seed).permutation(num_features)
    size = num_features // num_orgs
    blocks = [perm[i * size:(i + 1) * size] for i in range(num_orgs - 1)]
    return blocks + [perm[(num_orgs - 1) * size:]]
