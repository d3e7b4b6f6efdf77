"""Overflow bounds of the exact kernels, shared by every backend and by :class:`pyprivml.PrimeField`.

Field elements lie in [0, p) with p < 2**32, so a product of two is at most (p - 1)**2 < 2**64.
Delayed reduction (DESIGN.md) sums k such products in a uint64 accumulator and reduces once; the
sum cannot wrap as long as k (p - 1)**2 <= 2**64 - 1.

It lives here, in the lowest layer, because the backends need it and must not import the layers
above them; :mod:`pyprivml.field` re-exports it.

>>> from pyprivml.backends.bounds import max_delayed_terms
>>> max_delayed_terms(2**25 - 39)     # the default prime: 16384 products per reduction
16384
>>> max_delayed_terms(4294967291)     # the largest prime below 2**32: one product at a time
1
"""

from __future__ import annotations

__all__ = ["max_delayed_terms"]


def max_delayed_terms(p: int) -> int:
    """Largest k with k * (p - 1)**2 < 2**64: products summed in uint64 before one reduction mod p."""
    return ((1 << 64) - 1) // ((int(p) - 1) ** 2)
