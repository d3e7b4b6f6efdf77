"""CIFAR-10 from its python batches, as two classes (seed 004 sec. V: plane against car).

The python version of CIFAR-10 (``cifar-10-python.tar.gz``, extracted to ``cifar-10-batches-py/``)
holds ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``, each a pickled dict with ``b"data"``
(uint8, n x 3072: 1024 red, then green, then blue values) and ``b"labels"`` (0 = airplane,
1 = automobile, ...). We keep two classes (default 0 and 1: 10000 training images, of which the
seed reports 9019 after its own selection, and 2000 test images), divide the pixels by 255 and
append a bias column: 3072 + 1 = 3073 features as in the seed. Label 1 is the second class.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .classification import Dataset, prepare

__all__ = ["load_cifar10_binary", "make_cifar10_like", "read_batch", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def read_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: (uint8 images n x 3072, int labels n)."""
    what = f"{path} is not a CIFAR-10 python batch (a pickled dict with b'data' and b'labels')"
    with open(path, "rb") as fh:
        try:
            batch = pickle.load(fh, encoding="bytes")
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
            raise ValueError(f"{what}: {exc}") from None
    try:
        data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    except (KeyError, TypeError, IndexError):
        raise ValueError(what) from None
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: CIFAR-10 batches hold n x 3072 images, got {data.shape}")
    # Checked before the uint8 cast, which would wrap 256 to 0 silently.
    if data.dtype.kind not in "iu" or data.size and (data.min() < 0 or data.max() > 255):
        raise ValueError(f"{path}: CIFAR-10 pixels are integers in 0..255, got dtype {data.dtype}"
                         + (f" with values in [{data.min()}, {data.max()}]" if data.size else ""))
    if labels.shape != (data.shape[0],) or labels.dtype.kind not in "iu" or \
            labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: need one label in 0..9 per image ({data.shape[0]} images), got "
                         f"{labels.size} labels of dtype {labels.dtype}")
    return data.astype(np.uint8), labels.astype(np.int64)


def _find(root: Path) -> Path:
    for candidate in (root, root / "cifar-10-batches-py"):
        if (candidate / "test_batch").exists():
            return candidate
    raise FileNotFoundError(f"no CIFAR-10 python batches under {root} (expected data_batch_1..5 and test_batch, "
                            f"from cifar-10-python.tar.gz)")


def load_cifar10_binary(path, classes=(0, 1), *, bias: bool = True) -> Dataset:
    """Two CIFAR-10 classes (default airplane = 0 vs automobile = 1) from the batches under ``path``."""
    root = _find(Path(path))
    try:
        a, b = (int(c) for c in classes)
    except (TypeError, ValueError):
        raise ValueError(f"classes must be two different CIFAR-10 labels in 0..9, got {classes!r}") from None
    if a == b or not (0 <= a < 10 and 0 <= b < 10):
        raise ValueError(f"classes must be two different CIFAR-10 labels in 0..9, got {classes!r}")
    train = sorted(root.glob("data_batch_*"))
    if not train:
        raise FileNotFoundError(f"{root} has test_batch but no data_batch_* files")
    parts = [read_batch(f) for f in train]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    Xt, yt = read_batch(root / "test_batch")
    keep, keep_t = np.isin(y, (a, b)), np.isin(yt, (a, b))
    if not keep.any() or not keep_t.any():
        raise ValueError(f"the batches under {root} hold no images of classes {a} and {b}")
    # prepare() maps the larger label to 1; keep the caller's order instead (second class = 1).
    y01, yt01 = (y[keep] == b).astype(int), (yt[keep_t] == b).astype(int)
    return prepare("cifar10", X[keep], y01, X_test=Xt[keep_t], y_test=yt01, scale=255.0, bias=bias,
                   info={"classes_named": [CIFAR10_CLASSES[a], CIFAR10_CLASSES[b]], "path": str(root)})


def make_cifar10_like(m: int = 9019, m_test: int = 2000, *, seed: int = 0, noise: float = 0.1) -> Dataset:
    """Synthetic data of the seed's CIFAR-10 shape and value range, for machines without the files.

    m training and m_test test images of 3072 uint8 intensities drawn like CIFAR-10's (mean about
    120 of 255, standard deviation about 64, clipped to [0, 255]), labelled by a random hyperplane
    through the mean image with probability ``noise`` of a flipped label, then prepared exactly as
    :func:`load_cifar10_binary` prepares the real batches: divided by 255 and given the bias column
    of ones (3073 features, as in the seed). The default m = 9019 is the seed's training set size.

    >>> ds = make_cifar10_like(40, 10)
    >>> ds.X_train.shape, float(ds.X_train[:, :-1].min()) >= 0, float(ds.X_train[:, :-1].max()) <= 1
    ((40, 3073), True, True)
    >>> bool((ds.X_train[:, -1] == 1).all())
    True
    """
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 2 for v in (m, m_test)):
        raise ValueError(f"make_cifar10_like needs integers m >= 2 and m_test >= 2, got {m!r} and {m_test!r}")
    if not 0 <= noise <= 0.5:
        raise ValueError(f"noise is the label-flip probability, in [0, 0.5], got {noise!r}")
    rng = np.random.default_rng(seed)
    images = np.clip(np.rint(rng.normal(120.0, 64.0, (m + m_test, 3072))), 0, 255)
    direction = rng.standard_normal(3072)
    labels = ((images - 120.0) @ direction > 0).astype(int)
    flip = rng.random(m + m_test) < noise
    labels[flip] = 1 - labels[flip]
    labels[:2] = (0, 1)                                 # both classes in the training part
    return prepare("cifar10-like", images[:m], labels[:m], X_test=images[m:], y_test=labels[m:],
                   scale=255.0, info={"m": m, "m_test": m_test, "noise": noise, "synthetic": True})
