"""Shamir secret sharing over F_p (seed 004 appendix D, after Shamir 1979).

A secret a is hidden in the polynomial h(xi) = a + r_1 xi + ... + r_T xi**T with uniformly random
r_1..r_T; worker i receives the share [a]_i = h(x_i) at its public point x_i != 0 (by default
x_i = i + 1 for the 0-based worker index i). Any T shares are uniformly distributed whatever a
is; any T + 1 determine a = h(0) = sum_i lambda_i h(x_i), with the recombination vector lambda of
Lagrange coefficients at zero. Shares add locally; a local product of two degree-T sharings is a
degree-2T sharing of the product, which needs 2T + 1 shares (the BGW and BH08 baselines).

Example
-------
>>> import numpy as np, pyprivml as pp
>>> from pyprivml.random import SecureRandom
>>> F = pp.PrimeField(101)
>>> a, b = np.array([5, 7]), np.array([3, 30])
>>> A = pp.shamir_share(a, N=5, T=2, field=F, rng=SecureRandom(seed=1))   # shape (5, 2)
>>> B = pp.shamir_share(b, N=5, T=2, field=F, rng=SecureRandom(seed=2))
>>> pp.shamir_reconstruct({4: A[4], 1: A[1], 2: A[2]}, F, degree=2)       # any T + 1 shares
array([5, 7])
>>> AB = {i: A[i] * B[i] % F.p for i in range(5)}                         # degree 2T = 4
>>> pp.shamir_reconstruct(AB, F, degree=4)
array([15,  8])
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from . import _poly
from .field import as_field, check_elements
from .linalg import modcombine
from .random import as_secure_rng

__all__ = ["shamir_share", "shamir_reconstruct", "recombination_vector", "default_points"]


def default_points(N: int) -> np.ndarray:
    """The default public points 1, ..., N (worker i, 0-based, holds h(i + 1))."""
    return np.arange(1, operator.index(N) + 1, dtype=np.int64)


def _points(points, N, p):
    if points is None:
        if N >= p:
            raise ValueError(f"p = {p} is too small for the default points 1..{N}; use a prime above {N}")
        return default_points(N)
    return _poly.check_points(points, p, "points", count=N, nonzero=True)


@lru_cache(maxsize=256)
def _recombination(points: tuple[int, ...], p: int) -> np.ndarray:
    lam = _poly.lagrange_basis(np.array(points, dtype=np.int64), np.zeros(1, dtype=np.int64), p)[0]
    lam.setflags(write=False)
    return lam


def recombination_vector(points, field) -> np.ndarray:
    """lambda with h(0) = sum_i lambda_i h(x_i) for every polynomial h of degree < len(points).

    lambda_i = prod_{j != i} x_j / (x_j - x_i) mod p: the Lagrange basis at 0. The points must be
    distinct and nonzero. BGW degree reduction and BH08 reconstruction use it directly.

    >>> recombination_vector([1, 2, 3], 11).tolist()      # h(0) = 3h(1) - 3h(2) + h(3)
    [3, 8, 1]
    """
    F = as_field(field)
    x = _poly.check_points(points, F.p, "points", nonzero=True)
    return _recombination(tuple(x.tolist()), F.p)


def shamir_share(secret, N: int, T: int, field, rng=None, points=None, *, backend=None, check=True):
    """Split every entry of `secret` into N shares, any T + 1 of which reconstruct it.

    Parameters
    ----------
    secret : array of field elements, any shape
    N : int
        Number of shares (workers), N >= 1.
    T : int
        Privacy threshold and polynomial degree, 0 <= T < N: any T shares reveal nothing.
    field : PrimeField or int
    rng : SecureRandom, optional
        Source of the coefficients r_1..r_T (fresh for every entry and call); None uses a fresh
        secure generator.
    points : sequence of N distinct nonzero field elements, optional
        The workers' public points; default 1..N.

    Returns
    -------
    int64 array of shape (N, *secret.shape): ``out[i]`` is worker i's share h(x_i).
    """
    F = as_field(field)
    N = operator.index(N)
    T = operator.index(T)
    if N < 1:
        raise ValueError(f"N must be >= 1, got {N}")
    if not 0 <= T < N:
        raise ValueError(f"T must satisfy 0 <= T < N = {N} (T + 1 shares reconstruct), got T = {T}")
    x = _points(points, N, F.p)
    xp = _poly.array_module(secret)
    secret = xp.asarray(secret)
    if check:
        check_elements(secret, F.p, "secret")
    elif secret.dtype.kind not in "iu":
        raise TypeError(f"secret has dtype {secret.dtype}; shamir_share takes field elements")
    coeffs = xp.empty((T + 1, secret.size), dtype=np.int64)
    coeffs[0] = secret.reshape(-1)
    if T:
        R = as_secure_rng(rng).field_elements(F, (T, secret.size))
        coeffs[1:] = R if xp is np else xp.asarray(R)
    # Share i is h(x_i) = sum_t x_i**t coeffs[t]: a Vandermonde matrix times the coefficient rows.
    shares = modcombine(_poly.vandermonde(x, T, F.p), coeffs, F, backend=backend, check=False)
    return shares.reshape((N,) + tuple(secret.shape))


def shamir_reconstruct(shares, field, points=None, degree=None, *, backend=None, check=True):
    """Recover the secret h(0) from shares h(x_i).

    Parameters
    ----------
    shares : mapping worker index -> share array, or an array whose first axis is the worker
        index (as returned by :func:`shamir_share`).
    field : PrimeField or int
    points : sequence of ints, optional
        The public points of all workers, indexed by worker index; default x_i = i + 1.
    degree : int, optional
        Degree of the sharing polynomial: T for fresh shares, 2T after a local product. The
        first degree + 1 shares (in the mapping's order) are used. None interpolates through all
        the given shares, which is right whenever the polynomial's degree is below their count.

    Returns
    -------
    int64 array of the shares' shape.

    Raises
    ------
    ValueError
        Fewer than degree + 1 shares (the message says how many are needed), unknown worker
        indices, shares of different shapes, or bad points.
    """
    F = as_field(field)
    if not isinstance(shares, Mapping):
        xp = _poly.array_module(shares)
        arr = xp.asarray(shares)
        if arr.ndim < 1:
            raise ValueError("shares must be a mapping worker index -> share, or an array with one row per worker")
        shares = {i: arr[i] for i in range(arr.shape[0])}
    given = len(shares)
    if given == 0:
        raise ValueError("shamir_reconstruct needs at least one share")
    if degree is None:
        need = given
    else:
        degree = operator.index(degree)
        if degree < 0:
            raise ValueError(f"degree must be >= 0, got {degree}")
        need = degree + 1
        if given < need:
            raise ValueError(f"a degree-{degree} sharing needs {need} shares to reconstruct, got {given}")
    workers = list(shares)[:need]
    for w in workers:
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0:
            raise ValueError(f"unknown worker index {w!r}: shares must be keyed by worker indices 0, 1, ...")
    if points is None:
        top = max(int(w) for w in workers)
        all_points = _points(None, top + 1, F.p)
    else:
        all_points = _poly.check_points(points, F.p, "points", nonzero=True)
        for w in workers:
            if w >= all_points.size:
                raise ValueError(f"unknown worker index {w}: points has only {all_points.size} entries")
    x = all_points[[int(w) for w in workers]]
    stacked, shape = _poly.stack_evaluations(shares, workers, F.p, "share", check)
    lam = recombination_vector(x, F).reshape(1, -1)
    return modcombine(lam, stacked, F, backend=backend, check=False).reshape(shape)
