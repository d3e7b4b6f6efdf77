"""The exact NumPy reference backend: slow, simple, and the oracle every other backend must match.

Products are accumulated in uint64 over blocks of at most ``max_delayed_terms(p)`` terms, so no
partial sum exceeds 2**64 - 1 (the delayed-reduction bound of DESIGN.md), and reduced once per block.
"""

from __future__ import annotations

import numpy as np

from .bounds import max_delayed_terms

NAME = "numpy"

# SplitMix64 constants (Steele, Lea and Flood 2014): a counter-based generator, so the u for
# element j depends only on (key, j), never on the order or the thread that draws it.
GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)


def asarray(x):
    return np.asarray(x)


def matmul(A, B, p):
    n, k = A.shape
    m = B.shape[1]
    out = np.zeros((n, m), dtype=np.uint64)
    if k == 0 or n == 0 or m == 0:
        return out.astype(np.int64)
    A = A.astype(np.uint64)
    B = B.astype(np.uint64)
    step = max_delayed_terms(p)
    p64 = np.uint64(p)
    for start in range(0, k, step):
        block = A[:, start:start + step] @ B[start:start + step]  # < 2**64: exact
        out += block % p64
        out %= p64
    return out.astype(np.int64)


def matvec(A, x, p):
    return matmul(A, x.reshape(-1, 1), p).reshape(-1)


def matvec_t(A, x, p):
    return matmul(A.T, x.reshape(-1, 1), p).reshape(-1)


def combine(C, X, p):
    return matmul(C, X, p)


# -- entry-wise add, sub, mul ------------------------------------------------------------------
# Operands broadcast like NumPy's and are widened to uint64, which holds a + b < 2**33,
# a + p - b in (0, 2p) and a * b <= (p - 1)**2 < 2**64 exactly for every p < 2**32; one `%` reduces.

def _u64(x):
    return np.asarray(x, dtype=np.uint64)


def _field(r):
    # np.asarray: ufuncs return NumPy scalars for 0-d operands; the primitives return arrays.
    return np.asarray(r).astype(np.int64)


def add(a, b, p):
    """(a + b) mod p entry-wise."""
    return _field((_u64(a) + _u64(b)) % np.uint64(p))


def sub(a, b, p):
    """(a - b) mod p entry-wise, as (a + p - b) mod p so that nothing wraps in uint64."""
    return _field((_u64(a) + np.uint64(p) - _u64(b)) % np.uint64(p))


def mul(a, b, p):
    """(a * b) mod p entry-wise, exact because (p - 1)**2 < 2**64."""
    return _field((_u64(a) * _u64(b)) % np.uint64(p))


def mix64(z):
    """The SplitMix64 finaliser, elementwise on uint64 arrays (wrapping arithmetic)."""
    z = z.copy()
    z ^= z >> np.uint64(30)
    z *= MIX1
    z ^= z >> np.uint64(27)
    z *= MIX2
    z ^= z >> np.uint64(31)
    return z


def uniforms(key: int, count: int, start: int = 0):
    """Uniforms in [0, 1) on the 2**-53 grid: u_j = top53(mix64(key + (j + 1) * gamma)) * 2**-53
    for j = start, ..., start + count - 1. Reproducible, NOT cryptographically secure."""
    j = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = mix64(np.uint64(key) + j * GOLDEN_GAMMA)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _max_abs(x):
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x)))  # NaN propagates through np.max


def _embed(r, p):
    with np.errstate(invalid="ignore"):
        r = r.astype(np.int64)
    return np.where(r < 0, r + p, r)


def quantize(X, scale, p):
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf surface in max_abs, which the caller checks
        return _quantize(X, scale, p)


def _quantize(X, scale, p):
    x = np.asarray(X, dtype=np.float64) * scale
    max_abs = _max_abs(x)
    f = np.floor(x)
    rounded = f + (x - f >= 0.5)  # eq. (3): ties go up
    return _embed(rounded, p), max_abs


def quantize_stochastic(w, scale, p, key, copies):
    with np.errstate(invalid="ignore", over="ignore"):
        return _quantize_stochastic(w, scale, p, key, copies)


def _quantize_stochastic(w, scale, p, key, copies):
    x = (np.asarray(w, dtype=np.float64) * scale).reshape(-1, 1)
    max_abs = _max_abs(x)
    f = np.floor(x)
    u = uniforms(key, x.size * copies).reshape(-1, copies)
    rounded = f + (u < (x - f))  # eq. (6): up with probability x - floor(x)
    return _embed(rounded, p).reshape(np.shape(w) + (copies,)), max_abs
