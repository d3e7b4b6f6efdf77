"""Small-matrix polynomial helpers over F_p: batched inverses, barycentric weights, Lagrange bases.

These build the coefficient matrices of Lagrange coding (seed 004 eqs. 9-10 and 21) and of Shamir
sharing (appendix D). The matrices are small (workers x points), so the helpers are plain NumPy;
the long data rows they multiply go through the backend-dispatched :func:`pyprivml.modcombine`.

All functions take and return int64 arrays with entries in [0, p), p < 2**32, so a product of two
elements fits in uint64 and is reduced exactly.

Example
-------
>>> import numpy as np
>>> from pyprivml._poly import batch_inverse, lagrange_basis
>>> batch_inverse(np.array([1, 2, 3, 10]), 11)          # 2 * 6 = 3 * 4 = 10 * 10 = 1 (mod 11)
array([ 1,  6,  4, 10])
>>> lagrange_basis(np.array([1, 2]), np.array([0, 2]), 11)   # l_1(z) = 2 - z, l_2(z) = z - 1
array([[ 2, 10],
       [ 0,  1]])
"""

from __future__ import annotations

import math
import operator
from collections import Counter

import numpy as np

from .backends import numpy_backend as _reference

__all__ = [
    "mulmod",
    "prod_mod",
    "batch_inverse",
    "barycentric_weights",
    "lagrange_basis",
    "vandermonde",
    "check_points",
]


def mulmod(a, b, p: int) -> np.ndarray:
    """a * b mod p elementwise (broadcasting): the reference backend's ``mul``, for the small
    coefficient matrices built here (the public entry point is :func:`pyprivml.modmul`)."""
    return _reference.mul(a, b, p)


def prod_mod(a, p: int, axis: int = -1) -> np.ndarray:
    """The product of `a` along `axis` modulo p: one vectorised multiply per entry of that axis."""
    a = np.moveaxis(np.asarray(a, dtype=np.int64), axis, -1)
    out = np.ones(a.shape[:-1], dtype=np.int64)
    for j in range(a.shape[-1]):
        out = mulmod(out, a[..., j], p)
    return out


def batch_inverse(a, p: int) -> np.ndarray:
    """Inverses modulo p of every entry of `a`, with Montgomery's trick.

    The entries are laid out as an (r, c) grid with c ~ sqrt(n); prefix products run along the
    columns (c vectorised multiplies), only the r row totals are inverted, and a backward pass
    recovers each inverse: about 3n multiplications and r ~ sqrt(n) inversions instead of n.

    Raises
    ------
    ZeroDivisionError
        If an entry is 0 modulo p.
    """
    a = np.asarray(a, dtype=np.int64)
    shape = a.shape
    flat = a.reshape(-1) % p
    n = flat.size
    if n == 0:
        return np.zeros(shape, dtype=np.int64)
    if not flat.all():
        raise ZeroDivisionError(f"batch_inverse: {int(np.count_nonzero(flat == 0))} entries are 0 modulo p = {p}, which has no inverse")
    c = max(1, math.isqrt(n))
    r = -(-n // c)
    grid = np.ones(r * c, dtype=np.int64)
    grid[:n] = flat
    grid = grid.reshape(r, c)
    prefix = np.empty_like(grid)
    prefix[:, 0] = grid[:, 0]
    for j in range(1, c):
        prefix[:, j] = mulmod(prefix[:, j - 1], grid[:, j], p)
    # Only the r ~ sqrt(n) row totals are inverted, by Python's extended Euclid (pow(v, -1, p)).
    running = np.array([pow(int(v), -1, p) for v in prefix[:, -1]], dtype=np.int64)
    inv = np.empty_like(grid)
    for j in range(c - 1, 0, -1):
        inv[:, j] = mulmod(running, prefix[:, j - 1], p)
        running = mulmod(running, grid[:, j], p)
    inv[:, 0] = running
    return inv.reshape(-1)[:n].reshape(shape)


def barycentric_weights(points, p: int) -> np.ndarray:
    """w_j = 1 / prod_{k != j} (x_j - x_k) mod p for distinct points x: O(M**2) for M points."""
    x = np.asarray(points, dtype=np.int64)
    diff = (x[:, None] - x[None, :]) % p
    np.fill_diagonal(diff, 1)
    return batch_inverse(prod_mod(diff, p, axis=1), p)


def lagrange_basis(points, at, p: int) -> np.ndarray:
    """L[i, j] = l_j(z_i) = prod_{k != j} (z_i - x_k) / (x_j - x_k) mod p.

    Row i holds the coefficients that evaluate at z_i the polynomial of degree < M through the
    values at the M distinct `points` x: f(z_i) = sum_j L[i, j] f(x_j). Built in O(n M) with the
    barycentric form l_j(z) = l(z) w_j / (z - x_j), l(z) = prod_k (z - x_k), one batched inverse
    for all the (z_i - x_j), plus O(M**2) for the weights w_j. A z_i equal to some x_j gets the
    unit row e_j.
    """
    x = np.asarray(points, dtype=np.int64)
    z = np.asarray(at, dtype=np.int64)
    diff = (z[:, None] - x[None, :]) % p
    hit = diff == 0
    ell = prod_mod(diff, p, axis=1)  # l(z_i); 0 on rows where z_i is one of the points
    safe = np.where(hit, 1, diff)
    L = mulmod(mulmod(ell[:, None], barycentric_weights(x, p)[None, :], p), batch_inverse(safe, p), p)
    rows = hit.any(axis=1)
    if rows.any():
        L[rows] = hit[rows].astype(np.int64)
    return L


def vandermonde(points, degree: int, p: int) -> np.ndarray:
    """V[i, t] = x_i**t mod p for t = 0..degree: evaluates a polynomial from its coefficients."""
    x = np.asarray(points, dtype=np.int64) % p
    V = np.empty((x.size, int(degree) + 1), dtype=np.int64)
    V[:, 0] = 1
    for t in range(1, int(degree) + 1):
        V[:, t] = mulmod(V[:, t - 1], x, p)
    return V


def check_points(points, p: int, name: str, *, count: int | None = None, nonzero: bool = False) -> np.ndarray:
    """Return `points` as a 1-D int64 array after checking they are distinct field elements.

    Raises ValueError naming the offending entries (duplicates, outside [0, p), zero where
    ``nonzero``) or a wrong ``count``; TypeError for entries that are not integers.
    """
    arr = np.asarray(points)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of field elements, got shape {arr.shape}")
    try:
        values = [operator.index(v) for v in arr.tolist()]
    except TypeError:
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}") from None
    if count is not None and len(values) != count:
        raise ValueError(f"{name} needs exactly {count} points, got {len(values)}")
    outside = [v for v in values if not 0 <= v < p]
    if outside:
        raise ValueError(f"{name} has entries {outside[:5]} outside the field [0, {p})")
    if nonzero and 0 in values:
        raise ValueError(f"{name} may not contain 0 (the point where the secret sits)")
    repeated = sorted(v for v, c in Counter(values).items() if c > 1)
    if repeated:
        raise ValueError(f"{name} must be distinct; repeated: {repeated[:5]}")
    return np.array(values, dtype=np.int64).reshape(-1)


def array_module(a):
    """numpy, or cupy for CuPy arrays: coded blocks stay on the device they came from."""
    if type(a).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


def stack_evaluations(results, workers, p: int, what: str, check: bool = True):
    """Stack the arrays ``results[w]`` for ``w`` in ``workers`` as rows (one flattened evaluation
    per worker), checking that their shapes agree and, with ``check``, that they lie in [0, p).
    Returns (rows, shape of one evaluation)."""
    from .field import check_elements

    xp = array_module(results[workers[0]])
    arrays = [xp.asarray(results[w]) for w in workers]
    shape = arrays[0].shape
    for w, a in zip(workers, arrays):
        if a.shape != shape:
            raise ValueError(f"{what} of worker {w} has shape {a.shape}, worker {workers[0]}'s has {shape}")
    stacked = xp.stack([a.reshape(-1) for a in arrays])
    if check:
        try:
            check_elements(stacked, p, what)            # one pass over all results
        except (TypeError, ValueError):
            for w, a in zip(workers, arrays):           # name the worker whose result is wrong
                check_elements(a, p, f"{what} of worker {w}")
            raise
    return stacked, shape
