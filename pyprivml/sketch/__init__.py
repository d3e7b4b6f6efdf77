"""Sketching operators of seed 002 (appendix A.2, Definitions 18-23; sk/desk of E.2, eqs. 19-20).

``make(kind, b, d, seed)`` builds a seeded R in R^{b x d}; ``S.sk(x) = R x`` and
``S.desk(y) = R^T y`` work on NumPy arrays, torch tensors and CuPy arrays, one vector or a batch
of rows, and E[desk(sk(g))] = g (Theorem 60).

=============  ==========================  =====================================================
kind           class                       definition
=============  ==========================  =====================================================
gaussian       :class:`GaussianSketch`     Def. 18, entries N(0, 1/b), regenerated in blocks
srht           :class:`SRHT`               Def. 19, sqrt(n/b) S H D with a fast Walsh-Hadamard
ams            :class:`AMSSketch`          Def. 20, +-1/sqrt(b) from 4-wise independent hashes
countsketch    :class:`CountSketch`        Def. 21, one +-1 per column
sparse1        :class:`SparseEmbeddingI`   Def. 22, s entries +-1/sqrt(s) per column
sparse2        :class:`SparseEmbeddingII`  Def. 23, s stacked count-sketches / sqrt(s)
=============  ==========================  =====================================================

Example
-------
>>> import numpy as np
>>> from pyprivml import sketch
>>> S = sketch.make("countsketch", b=256, d=4096, seed=7)
>>> g = np.random.default_rng(0).standard_normal(4096)
>>> S.sk(g).shape, S.desk(S.sk(g)).shape
((256,), (4096,))
>>> x, y = np.ones(4096), np.arange(256.0)
>>> bool(np.isclose(S.sk(x) @ y, x @ S.desk(y)))  # desk is the adjoint of sk
True
"""

from __future__ import annotations

from .base import Sketch
from .dense import AMSSketch, DenseSketch, GaussianSketch
from .embedding import TABLE1_A, EmbeddingEstimate, estimate_embedding_parameter
from .hashed import CountSketch, HashedSketch, SparseEmbeddingI, SparseEmbeddingII
from .srht import SRHT, fwht

__all__ = [
    "Sketch", "DenseSketch", "HashedSketch", "GaussianSketch", "SRHT", "AMSSketch", "CountSketch",
    "SparseEmbeddingI", "SparseEmbeddingII", "fwht", "make", "canonical_kind", "SKETCH_KINDS",
    "TABLE1_A", "EmbeddingEstimate", "estimate_embedding_parameter",
]

SKETCH_KINDS = {
    "gaussian": GaussianSketch,
    "srht": SRHT,
    "ams": AMSSketch,
    "countsketch": CountSketch,
    "sparse1": SparseEmbeddingI,
    "sparse2": SparseEmbeddingII,
}

_ALIASES = {
    "count-sketch": "countsketch", "count_sketch": "countsketch", "cs": "countsketch",
    "sparse_embedding_1": "sparse1", "sparse-embedding-1": "sparse1", "sparse_embedding_i": "sparse1",
    "sparse_embedding_2": "sparse2", "sparse-embedding-2": "sparse2", "sparse_embedding_ii": "sparse2",
    "hadamard": "srht", "random_gaussian": "gaussian",
}


def canonical_kind(kind: str) -> str:
    """The registry name for `kind` (case-insensitive, common aliases accepted)."""
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a string, got {type(kind).__name__}")
    key = kind.lower()
    key = _ALIASES.get(key, key)
    if key not in SKETCH_KINDS:
        raise ValueError(f"unknown sketch kind {kind!r}; valid kinds: {', '.join(SKETCH_KINDS)}")
    return key


def make(kind: str, b: int, d: int, seed=None, **kw) -> Sketch:
    """A seeded b x d sketching operator of the given kind (see the table above).

    Extra keywords go to the class: ``s`` (column sparsity; default 4, or the largest divisor of b up to 4 for sparse2) for the sparse embeddings,
    ``block`` and ``cache_entries`` for the dense ones.
    """
    return SKETCH_KINDS[canonical_kind(kind)](b, d, seed=seed, **kw)


def __getattr__(name):
    # ``KINDS`` was this registry's name before ``comm.TRANSPORT_KINDS`` existed beside it.
    if name == "KINDS":
        import warnings
        warnings.warn("pyprivml.sketch.KINDS is now SKETCH_KINDS", DeprecationWarning, stacklevel=2)
        return SKETCH_KINDS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
