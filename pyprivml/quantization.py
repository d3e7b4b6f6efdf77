"""Quantisation between the reals and F_p (seed 004 eqs. 3, 4, 6, 7 and 23).

* ``quantize(X, l, field)`` is eq. (4): phi(Round(2**l X)), Round from eq. (3) (ties go up,
  unlike NumPy's round-half-to-even).
* ``quantize_stochastic(w, l, field, copies=r)`` is eq. (7): r independent realisations of
  Q(w; l) = phi(Round_stoc(2**l w)) (eq. 6), unbiased, stacked as the columns of W-bar (eq. 8).
* ``dequantize(a, l, field)`` is eq. (23): phi^-1(a) / 2**l.

A value whose scaled magnitude would exceed (p-1)/2 would wrap around modulo p; it raises a
``ValueError`` naming the largest safe l. The stochastic draws come from a counter-based
generator (SplitMix64): fast, reproducible with ``seed=``, the same bits on every backend and
thread count, and not cryptographically secure (it only rounds; masks come from pyprivml.random).

Example
-------
>>> import numpy as np, pyprivml as pp
>>> F = pp.PrimeField(97)
>>> pp.quantize(np.array([0.5, -0.5, 1.25, -1.25]), 1, F)
array([ 1, 96,  3, 95])
>>> pp.dequantize(pp.quantize(np.array([0.5, -0.5, 1.25, -1.25]), 1, F), 1, F)
array([ 0.5, -0.5,  1.5, -1. ])
>>> pp.quantize_stochastic(np.array([0.25, -0.75]), 2, F, copies=3, seed=0).shape
(2, 3)
"""

from __future__ import annotations

import math
import secrets

import numpy as np

from .backends import get_backend
from .field import as_field, next_prime

__all__ = ["round_half_up", "round_stochastic", "quantize", "quantize_stochastic", "dequantize"]


def round_half_up(x):
    """Round of eq. (3): floor(x) if x - floor(x) < 0.5, else floor(x) + 1 (exact in floats)."""
    x = np.asarray(x, dtype=np.float64)
    f = np.floor(x)
    return f + (x - f >= 0.5)


def round_stochastic(x, seed=None, copies=None):
    """Round_stoc of eq. (6) on real values: floor(x) + 1 with probability x - floor(x)."""
    from .backends.numpy_backend import uniforms

    x = np.asarray(x, dtype=np.float64)
    r = 1 if copies is None else copies
    u = uniforms(_key(seed), x.size * r).reshape(x.shape + (r,))
    f = np.floor(x)[..., None]
    out = f + (u < x[..., None] - f)
    return out[..., 0] if copies is None else out


def _key(seed) -> int:
    """The 64-bit stream key: fresh from the OS CSPRNG, or derived from an int seed."""
    if seed is None:
        return secrets.randbits(64)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    from .backends.numpy_backend import mix64

    return int(mix64(np.array([int(seed) % 2**64], dtype=np.uint64))[0])


def _real_input(x, name):
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a real-valued array, got dtype {arr.dtype}")
    return arr


def _check_scale(l):
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 0 <= l <= 62:
        raise ValueError(f"the quantisation parameter l must be an integer in [0, 62], got {l!r}")
    return 2.0 ** int(l)


def _check_range(name, max_abs, l, F, worst_case):
    """Raise unless every rounded value fits in [-(p-1)/2, (p-1)/2]; ``worst_case(m)`` bounds
    |Round(y)| over |y| <= m for the rounding in use, and also picks the safe l it suggests."""
    if not math.isfinite(max_abs):
        raise ValueError(f"{name}: the input contains NaN or infinity; only finite reals can be quantised")
    if worst_case(max_abs) > F.half:
        max_x = max_abs / 2.0**l
        safe = next((s for s in range(62, -1, -1) if worst_case(max_x * 2.0**s) <= F.half), None)
        hint = (f"use l <= {safe}" if safe is not None
                else f"no l >= 0 fits; use a larger prime (p >= {next_prime(2 * worst_case(max_x))})")
        raise ValueError(
            f"{name}: max |2**{l} * x| = {max_abs:.6g} exceeds (p-1)/2 = {F.half} and would wrap "
            f"around modulo p = {F.p}; {hint}"
        )


def quantize(X, l, field, *, backend=None):
    """phi(Round(2**l * X)) (seed 004 eq. 4): reals to field elements, deterministically."""
    F = as_field(field)
    scale = _check_scale(l)
    X = _real_input(X, "quantize")
    out, max_abs = get_backend(backend, X).quantize(X, scale, F.p)
    _check_range("quantize", max_abs, l, F, lambda m: math.floor(m + 0.5))
    return out


def quantize_stochastic(w, l, field, *, copies=None, seed=None, backend=None):
    """`copies` independent Q(w; l) = phi(Round_stoc(2**l w)) (eqs. 6-7).

    Returns shape ``w.shape + (copies,)`` (the d x r matrix W-bar of eq. 8 for a vector w), or
    ``w.shape`` when ``copies`` is None. ``seed=None`` draws a fresh key from the OS CSPRNG; an
    int seed gives a reproducible stream (for tests and benchmarks).
    """
    F = as_field(field)
    scale = _check_scale(l)
    if copies is not None and (not isinstance(copies, (int, np.integer)) or copies < 1):
        raise ValueError(f"copies must be a positive integer (the r of eq. 7), got {copies!r}")
    w = _real_input(w, "quantize_stochastic")
    r = 1 if copies is None else int(copies)
    out, max_abs = get_backend(backend, w).quantize_stochastic(w, scale, F.p, _key(seed), r)
    # Round_stoc(x) <= floor(|x|) + 1 whatever the draw, so the check never depends on luck.
    _check_range("quantize_stochastic", max_abs, l, F, lambda m: math.floor(m) + 1)
    return out[..., 0] if copies is None else out


def dequantize(a, l, field):
    """phi^-1(a) / 2**l (seed 004 eq. 23): field elements back to reals."""
    F = as_field(field)
    return F.lift(a).astype(np.float64) / 2.0 ** int(l)
