"""Lagrange coded computing (LCC): the encoding and decoding of CodedPrivateML (seed 004 sec. III-B, III-D).

The master splits the quantised dataset X into K row blocks X_1..X_K, adds T uniformly random
masking blocks R_{K+1}..R_{K+T}, and places them at the points beta_1..beta_{K+T} of the
polynomial u(z) of degree K + T - 1 (eq. 9). Worker i gets u(alpha_i) (eq. 10). Weights W are
encoded the same way with W at all K data points (eqs. 11-12). A worker applies a polynomial f of
degree deg to its blocks, so its result is h(alpha_i) for h = f(u, v) of degree
deg * (K + T - 1); any deg * (K + T - 1) + 1 results interpolate h, and the master reads
f(X_k, W) = h(beta_k) off it (eqs. 19-21). Any T colluding workers see uniformly random blocks
whatever X is (seed 004 Theorem 1).

Evaluation points: by default beta_j = j for j = 1..K+T and alpha_i = K + T + i for i = 1..N,
which needs p > N + K + T. Worker indices are 0-based: worker i holds u(alphas[i]).

Example
-------
>>> import numpy as np, pyprivml as pp
>>> from pyprivml.random import SecureRandom
>>> F = pp.PrimeField(10007)
>>> code = pp.LagrangeCode(F, N=7, K=2, T=1)
>>> X = np.arange(12).reshape(4, 3)                 # m = 4 rows, split into K = 2 blocks
>>> Xt = code.encode(X, rng=SecureRandom(seed=1))   # (N, m/K, d): one block per worker
>>> Xt.shape
(7, 2, 3)
>>> code.recovery_threshold(2)                      # f(B) = B * B elementwise has degree 2
5
>>> results = {i: Xt[i] * Xt[i] % F.p for i in (6, 0, 3, 5, 2)}   # any 5 of the 7 workers
>>> code.unpad(code.decode(results, degree=2), m=4).tolist() == (X * X).tolist()
True
"""

from __future__ import annotations

import math
import operator
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from . import _poly
from .field import PrimeField, as_field, check_elements
from .linalg import modcombine
from .random import as_secure_rng

__all__ = ["LagrangeCode"]

_DECODE_CACHE_SIZE = 256


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


class LagrangeCode:
    """A Lagrange code with N workers, K data blocks and privacy against T colluding workers.

    Parameters
    ----------
    field : PrimeField or int
        The field F_p (a plain prime p is accepted).
    N : int
        Number of workers (>= 1).
    K : int
        Number of data blocks, the parallelisation parameter (>= 1).
    T : int
        Number of random masking blocks: any T workers learn nothing about the data (>= 0).
    alphas : sequence of N ints, optional
        The workers' evaluation points; default K+T+1, ..., K+T+N.
    betas : sequence of K + T ints, optional
        The interpolation points of the K data blocks then the T masks; default 1, ..., K+T.

    All N + K + T points must be distinct elements of [0, p); the defaults need p > N + K + T.

    Raises
    ------
    TypeError, ValueError
        For non-integer or out-of-range N, K, T; for points that repeat, overlap, lie outside
        [0, p) or are the wrong number; for a field too small for the default points.
    """

    def __init__(self, field, N: int, K: int, T: int, alphas=None, betas=None):
        self.field: PrimeField = as_field(field)
        self.N = _count("N", N, 1)
        self.K = _count("K", K, 1)
        self.T = _count("T", T, 0)
        p = self.field.p
        n_points = self.N + self.K + self.T
        if (alphas is None or betas is None) and n_points >= p:
            raise ValueError(
                f"p = {p} is too small for the default evaluation points 1..{n_points} "
                f"(N + K + T = {n_points} distinct nonzero field elements); use a prime "
                f"above {n_points} or pass alphas and betas explicitly"
            )
        KT = self.K + self.T
        if betas is None:
            betas = np.arange(1, KT + 1)
        if alphas is None:
            alphas = np.arange(KT + 1, KT + self.N + 1)
        self.betas = _poly.check_points(betas, p, "betas", count=KT)
        self.alphas = _poly.check_points(alphas, p, "alphas", count=self.N)
        shared = np.intersect1d(self.alphas, self.betas)
        if shared.size:
            raise ValueError(
                f"alphas and betas must be disjoint (seed 004 sec. III-B); both contain "
                f"{shared[:5].tolist()}"
            )
        self.alphas.setflags(write=False)
        self.betas.setflags(write=False)
        # eqs. 9-10: U[i, j] = l_j(alpha_i), the Lagrange basis of the betas at the alphas.
        self._U = _poly.lagrange_basis(self.betas, self.alphas, p)
        self._U.setflags(write=False)
        self._U_replicated = None
        self._decoders: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()

    def __repr__(self) -> str:
        return f"LagrangeCode({self.field!r}, N={self.N}, K={self.K}, T={self.T})"

    # -- encoding ------------------------------------------------------------------------

    @property
    def encoding_matrix(self) -> np.ndarray:
        """U of eq. 10 as an (N, K + T) read-only array: worker i gets sum_j U[i, j] * block_j.

        (The seed writes its transpose, (K + T) x N.)
        """
        return self._U

    def block_rows(self, m: int) -> int:
        """Rows per block, ceil(m / K): an m-row dataset is zero-padded to K * block_rows(m)."""
        return -(-operator.index(m) // self.K)

    def _prepare(self, a, name, check):
        xp = _poly.array_module(a)
        a = xp.asarray(a)
        if check:
            check_elements(a, self.field.p, name)
        elif a.dtype.kind not in "iu":
            raise TypeError(f"{name} has dtype {a.dtype}; encode takes field elements (integers in [0, p))")
        return xp, a

    def _masks(self, rng, xp, length):
        R = as_secure_rng(rng).field_elements(self.field, (self.T, length))
        return R if xp is np else xp.asarray(R)

    def encode(self, X, rng=None, *, backend=None, check=True):
        """Encode a dataset for the N workers: X~_i = u(alpha_i) (seed 004 eqs. 9-10).

        Parameters
        ----------
        X : array of shape (m, ...)
            Field elements. Rows are split into K consecutive blocks of ceil(m / K) rows, the
            last rows zero-padded when K does not divide m (see :meth:`unpad`).
        rng : SecureRandom, optional
            Source of the T masking blocks; None (default) uses a fresh secure generator.
            Every call draws fresh masks.
        backend : str, optional
            Backend for the product U @ blocks (:func:`pyprivml.modcombine`).
        check : bool
            Check that X holds integers in [0, p) (one pass over X).

        Returns
        -------
        int64 array of shape (N, ceil(m / K), ...): worker i's block is ``out[i]``.
        """
        xp, X = self._prepare(X, "X", check)
        if X.ndim < 1:
            raise ValueError("encode needs an array with at least one axis (its rows are split into K blocks)")
        m = X.shape[0]
        rows = self.block_rows(m)
        tail = X.shape[1:]
        length = rows * math.prod(tail)
        stacked = xp.zeros((self.K + self.T, length), dtype=np.int64)
        stacked[: self.K].reshape(-1)[: X.size] = X.reshape(-1)  # the K data blocks, zero padded
        stacked[self.K:] = self._masks(rng, xp, length)
        out = modcombine(self._U, stacked, self.field, backend=backend, check=False)
        return out.reshape((self.N, rows) + tail)

    def encode_replicated(self, W, rng=None, *, backend=None, check=True):
        """Encode weights with the same W at all K data points: W~_i = v(alpha_i) (eqs. 11-12).

        Because the K data blocks are equal, sum_{j<=K} U[i, j] W = (sum_{j<=K} U[i, j]) W, so
        the product uses the (N, 1 + T) matrix [row sums of U's data columns | U's mask columns]:
        the same result with 1 + T instead of K + T terms per entry.

        Returns an int64 array of shape (N, *W.shape); fresh masks V_j on every call.
        """
        xp, W = self._prepare(W, "W", check)
        if self._U_replicated is None:
            p = self.field.p
            C = np.empty((self.N, 1 + self.T), dtype=np.int64)
            C[:, 0] = self._U[:, : self.K].sum(axis=1) % p  # K < 2**31 terms below p < 2**32
            C[:, 1:] = self._U[:, self.K:]
            C.setflags(write=False)
            self._U_replicated = C
        length = W.size
        stacked = xp.empty((1 + self.T, length), dtype=np.int64)
        stacked[0] = W.reshape(-1)
        stacked[1:] = self._masks(rng, xp, length)
        out = modcombine(self._U_replicated, stacked, self.field, backend=backend, check=False)
        return out.reshape((self.N,) + tuple(W.shape))

    # -- decoding ------------------------------------------------------------------------

    def recovery_threshold(self, degree: int) -> int:
        """deg * (K + T - 1) + 1: results needed to decode a polynomial of degree `degree`
        (seed 004 sec. III-D; degree 2r + 1 for the logistic gradient of eq. 18)."""
        degree = _count("degree", degree, 0)
        return degree * (self.K + self.T - 1) + 1

    def _check_workers(self, workers) -> tuple[int, ...]:
        out = []
        for w in workers:
            if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or not 0 <= w < self.N:
                raise ValueError(f"unknown worker index {w!r}: results must be keyed by worker indices 0..{self.N - 1}")
            out.append(int(w))
        if len(set(out)) != len(out):
            raise ValueError(f"worker indices must be distinct, got {out}")
        return tuple(out)

    def decoding_matrix(self, workers) -> np.ndarray:
        """D (K, len(workers)) with D[k, i] = prod_{j != i} (beta_k - alpha_j) / (alpha_i - alpha_j)
        over the given workers (eq. 21), cached per set of workers (least recently used first out).
        Column i belongs to ``workers[i]``."""
        workers = self._check_workers(workers)
        key = tuple(sorted(workers))
        D = self._decoders.get(key)
        if D is None:
            D = _poly.lagrange_basis(self.alphas[list(key)], self.betas[: self.K], self.field.p)
            D.setflags(write=False)
            self._decoders[key] = D
            if len(self._decoders) > _DECODE_CACHE_SIZE:
                self._decoders.popitem(last=False)
        else:
            self._decoders.move_to_end(key)
        if workers == key:
            return D
        return D[:, np.argsort(np.argsort(workers))]

    def decode(self, results: Mapping, degree: int, *, backend=None, check=True, summed=False):
        """Recover f(X_k, W) = h(beta_k) for k = 1..K from the workers' h(alpha_i) (eq. 21).

        ``summed=True`` returns their sum over k instead (eq. 22), in the same single combination:
        the decoding matrix's rows are summed first, (1ᵀD) R rather than 1ᵀ(D R).

        Parameters
        ----------
        results : mapping worker index (0..N-1) -> array
            Each worker's result f(X~_i, W~_i), all of one shape. The first
            ``recovery_threshold(degree)`` entries in the mapping's order are used (so an
            insertion-ordered dict keeps the first workers to arrive); extra entries are ignored.
        degree : int
            Degree of the polynomial f the workers applied.

        Returns
        -------
        int64 array of shape (K, *result shape): block k is f applied to data block k
        (``summed``: of the result shape, the sum of the K blocks).

        Raises
        ------
        ValueError
            If fewer results than the recovery threshold are given (the message names the
            threshold and the count), if the threshold exceeds N, for an unknown worker index or
            results of different shapes.
        """
        need = self.recovery_threshold(degree)
        if need > self.N:
            raise ValueError(
                f"a degree-{degree} computation needs {need} = {degree}*(K+T-1)+1 results but this "
                f"code has only N = {self.N} workers (K = {self.K}, T = {self.T}); use more workers "
                f"or smaller K + T"
            )
        if not isinstance(results, Mapping):
            raise TypeError(f"results must be a mapping worker index -> array, got {type(results).__name__}")
        if len(results) < need:
            raise ValueError(
                f"decoding a degree-{degree} computation needs results from recovery_threshold({degree}) "
                f"= {need} workers ({degree}*(K+T-1)+1 with K = {self.K}, T = {self.T}), got {len(results)}"
            )
        workers = self._check_workers(list(results)[:need])
        stacked, shape = _poly.stack_evaluations(results, workers, self.field.p, "result", check)
        D = self.decoding_matrix(workers)
        if summed:
            D = (D.sum(axis=0, keepdims=True) % self.field.p)     # K entries below p each: no overflow
        out = modcombine(D, stacked, self.field, backend=backend, check=False)
        return out.reshape(tuple(shape)) if summed else out.reshape((self.K,) + tuple(shape))

    def unpad(self, decoded, m: int):
        """Concatenate K decoded row blocks (K, rows, ...) and drop the zero padding: (m, ...).

        For computations that act row by row (elementwise maps, X w): block k of the result
        then holds rows k*rows .. (k+1)*rows - 1 of the full result."""
        m = operator.index(m)
        if decoded.ndim < 2 or decoded.shape[0] != self.K:
            raise ValueError(f"unpad takes decoded blocks of shape (K={self.K}, rows, ...), got {decoded.shape}")
        if not 0 <= m <= self.K * decoded.shape[1]:
            raise ValueError(f"m = {m} rows do not fit in {self.K} blocks of {decoded.shape[1]} rows")
        return decoded.reshape((-1,) + tuple(decoded.shape[2:]))[:m]
