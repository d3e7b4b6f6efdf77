"""Data sets, prepared the same way for every protocol (see :mod:`pyprivml.data.classification`).

Binary classification for CodedPrivateML and its MPC baselines:

* :func:`load_digits49`, :func:`load_breast_cancer` (ship with scikit-learn), :func:`make_synthetic`,
  :func:`make_cifar10_like` (the seed's CIFAR-10 shape and value range, synthetic);
* :func:`load_cifar10_binary` (CIFAR-10 python batches, plane vs car) and :func:`load_gisette`
  (GISETTE ``.data``/``.labels``): the seed's real data sets, read from files you provide.

:func:`get_dataset` maps the names the CLI accepts to these loaders. Tabular data for GAL lives
in :mod:`pyprivml.data.tabular`.
"""

from __future__ import annotations

from .cifar10 import load_cifar10_binary, make_cifar10_like
from .classification import Dataset, load_breast_cancer, load_digits49, make_synthetic, prepare, split
from .gisette import load_gisette

__all__ = ["Dataset", "prepare", "split", "load_digits49", "load_breast_cancer", "make_synthetic",
           "load_cifar10_binary", "make_cifar10_like", "load_gisette", "get_dataset", "DATASETS"]

#: Names accepted by :func:`get_dataset` (and ``pyprivml train --dataset``).
DATASETS = ("digits49", "breast_cancer", "synthetic", "cifar10", "gisette")


def get_dataset(name: str, *, path=None, m: int = 1000, d: int = 50, seed: int = 0, **kwargs) -> Dataset:
    """Load a binary classification data set by name; ``path`` is needed for cifar10 and gisette,
    ``m`` and ``d`` size the synthetic one."""
    key = name.lower().replace("-", "_")
    if key in ("digits49", "digits"):
        return load_digits49(seed=seed, **kwargs)
    if key in ("breast_cancer", "breastcancer"):
        return load_breast_cancer(seed=seed, **kwargs)
    if key == "synthetic":
        return make_synthetic(m, d, seed=seed, **kwargs)
    if key in ("cifar10", "gisette"):
        if path is None:
            raise ValueError(f"the {key} data set is read from files: give their directory (--data-path)")
        return load_cifar10_binary(path, **kwargs) if key == "cifar10" else load_gisette(path, seed=seed, **kwargs)
    raise ValueError(f"unknown data set {name!r}; valid: {', '.join(DATASETS)}")
