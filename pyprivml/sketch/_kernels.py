"""Numba kernels behind the NumPy path of the sketches (serial; one row of a batch at a time).

Each kernel has a vectorised NumPy/torch counterpart in the operator classes, which the tests
compare it with.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Butterfly stages with half-width below this run block by block, so a block of 2**12 doubles
# (32 KiB) stays in L1/L2 for 12 of the log2(n) stages instead of streaming n values each time.
_FWHT_BLOCK = 4096

# Columns processed per chunk in the hashed kernels, so the hash arrays of a chunk are reused
# from cache by every row of a batch.
_CHUNK = 8192


@njit(cache=True)
def _butterflies(v, lo, hi, h_start, h_stop):
    h = h_start
    while h < h_stop:
        step = 2 * h
        for start in range(lo, hi, step):
            for j in range(start, start + h):
                a = v[j]
                c = v[j + h]
                v[j] = a + c
                v[j + h] = a - c
        h = step


@njit(cache=True)
def fwht_rows(X):
    """In-place unnormalised Walsh-Hadamard transform (Sylvester order) of every row of X.

    O(n log n) per row; n = X.shape[1] must be a power of two.
    """
    n = X.shape[1]
    block = min(n, _FWHT_BLOCK)
    for r in range(X.shape[0]):
        v = X[r]
        for lo in range(0, n, block):
            _butterflies(v, lo, lo + block, 1, block)
        _butterflies(v, 0, n, block, n)


@njit(cache=True)
def hashed_sk(X, rows, signs, scale, out):
    """out[r, rows[i, t]] += scale * signs[i, t] * X[r, i]: R x for a sparse R stored by columns."""
    n_batch, d = X.shape
    s = rows.shape[1]
    for c0 in range(0, d, _CHUNK):
        c1 = min(d, c0 + _CHUNK)
        for r in range(n_batch):
            x = X[r]
            o = out[r]
            for i in range(c0, c1):
                xi = scale * x[i]
                for t in range(s):
                    o[rows[i, t]] += signs[i, t] * xi


@njit(cache=True)
def _countsketch_row(x, buckets, signs, o, c0, c1):
    for i in range(c0, c1):
        o[buckets[i]] += signs[i] * x[i]


@njit(cache=True)
def countsketch_sk(X, buckets, signs, out):
    """The s = 1 case of :func:`hashed_sk` (count-sketch) on contiguous 1-D hash arrays: one
    pass over x, reading 4 + 1 bytes of hash and sign per entry."""
    n_batch, d = X.shape
    if n_batch == 1:
        _countsketch_row(X[0], buckets, signs, out[0], 0, d)
        return
    for c0 in range(0, d, _CHUNK):
        c1 = min(d, c0 + _CHUNK)
        for r in range(n_batch):
            _countsketch_row(X[r], buckets, signs, out[r], c0, c1)


@njit(cache=True)
def hashed_desk(Y, rows, signs, scale, out):
    """out[r, i] = scale * sum_t signs[i, t] * Y[r, rows[i, t]]: R^T y for the same R."""
    n_batch, d = out.shape
    s = rows.shape[1]
    for c0 in range(0, d, _CHUNK):
        c1 = min(d, c0 + _CHUNK)
        for r in range(n_batch):
            y = Y[r]
            o = out[r]
            for i in range(c0, c1):
                acc = 0.0
                for t in range(s):
                    acc += signs[i, t] * y[rows[i, t]]
                o[i] = scale * acc


@njit(cache=True)
def _mod_mersenne31(v):
    p = np.uint64(2**31 - 1)
    v = (v & p) + (v >> np.uint64(31))
    v = (v & p) + (v >> np.uint64(31))
    return v - p if v >= p else v


@njit(cache=True)
def ams_block(coef, j0, j1, scale, out):
    """Columns j0..j1-1 of the AMS matrix: out[i, j - j0] = +-scale from a degree-3 polynomial hash.

    Row i uses h_i(x) = a3 x^3 + a2 x^2 + a1 x + a0 mod p, p = 2^31 - 1, evaluated at x = j + 1
    (Horner; every product is below 2^62 so uint64 never overflows). Random coefficients make the
    family 4-wise independent (Carter-Wegman), as Definition 20 of seed 002 asks; the parity of
    h_i(x) is the sign (bias 1/p ~ 5e-10 because p is odd).
    """
    b = coef.shape[0]
    for i in range(b):
        a0 = coef[i, 0]
        a1 = coef[i, 1]
        a2 = coef[i, 2]
        a3 = coef[i, 3]
        for j in range(j0, j1):
            x = np.uint64(j + 1)
            h = _mod_mersenne31(a3 * x + a2)
            h = _mod_mersenne31(h * x + a1)
            h = _mod_mersenne31(h * x + a0)
            out[i, j - j0] = scale if (h & np.uint64(1)) == 0 else -scale
