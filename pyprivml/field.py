"""The prime field F_p that every protocol computes in.

Elements are int64 NumPy arrays with entries in [0, p). Signed integers are embedded with the
two's-complement map phi of seed 004, eq. (5): x -> x for x >= 0 and x -> p + x for x < 0, and
brought back with phi^-1 (eq. 24): values above (p - 1) / 2 are negative.

Example
-------
>>> import numpy as np
>>> from pyprivml import PrimeField
>>> F = PrimeField()           # the largest prime below 2**25
>>> F.p
33554393
>>> F.embed(np.array([-1, 0, 5]))
array([33554392,        0,        5])
>>> F.lift(F.embed(np.array([-1, 0, 5])))
array([-1,  0,  5])
>>> F.max_delayed_terms    # products of two elements summed in 64 bits before one reduction
16384
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from .backends.bounds import max_delayed_terms

__all__ = [
    "PrimeField",
    "DEFAULT_PRIME",
    "is_prime",
    "next_prime",
    "prev_prime",
    "largest_primes",
    "as_field",
    "max_delayed_terms",
]

#: Kernels keep field elements in uint32 and products in uint64, so p must fit in 32 bits.
MAX_PRIME_BITS = 32

# Deterministic Miller-Rabin: the prime bases up to 37 decide primality for every
# n < 318665857834031151167461 (about 3.2e23, far above 2**64).
_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin primality test, exact for every n < 2**64 (and far beyond)."""
    n = int(n)
    if n < 2:
        return False
    for q in _MR_BASES:
        if n % q == 0:
            return n == q
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in _MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def next_prime(n: int) -> int:
    """The smallest prime strictly greater than n."""
    n = max(int(n) + 1, 2)
    while not is_prime(n):
        n += 1
    return n


def prev_prime(n: int) -> int | None:
    """The largest prime strictly smaller than n, or None if there is none."""
    n = int(n) - 1
    while n >= 2:
        if is_prime(n):
            return n
        n -= 1
    return None


@functools.lru_cache(maxsize=None)
def largest_primes(k: int) -> tuple:
    """The k largest primes the kernels accept (below 2**32), largest first.

    >>> largest_primes(2)
    (4294967291, 4294967279)
    """
    out, q = [], 2**MAX_PRIME_BITS
    for _ in range(int(k)):
        q = prev_prime(q)
        out.append(q)
    return tuple(out)


#: The largest prime below 2**25. Seed 004 (sec. III-A and V) states p = 2**25 - 37, but
#: 2**25 - 37 = 33554395 is divisible by 5; the largest prime below 2**25 is 2**25 - 39.
DEFAULT_PRIME = 2**25 - 39


class PrimeField:
    """The prime field F_p with 2 < p < 2**32, elements stored as int64 arrays in [0, p).

    Parameters
    ----------
    p : int, optional
        The prime modulus; defaults to :data:`DEFAULT_PRIME`, the largest prime below 2**25,
        for which 16384 products can be accumulated in 64 bits before one reduction.

    Raises
    ------
    ValueError
        If p is not a prime with 2 < p < 2**32; the message names the nearest valid primes.
    """

    __slots__ = ("p", "half", "max_delayed_terms")

    def __init__(self, p: int = DEFAULT_PRIME):
        if isinstance(p, bool) or not isinstance(p, numbers.Integral):
            raise TypeError(f"the field modulus p must be an integer, got {type(p).__name__} {p!r}")
        p = int(p)
        if not (2 < p < 2**MAX_PRIME_BITS) or not is_prime(p):
            below = prev_prime(min(p, 2**MAX_PRIME_BITS))
            above = next_prime(max(p, 2))
            below = below if below is not None and below > 2 else None
            valid = []
            if below is not None:
                valid.append(f"{below} below")
            if above < 2**MAX_PRIME_BITS:
                valid.append(f"{above} above")
            reason = "is not prime" if 2 < p < 2**MAX_PRIME_BITS else "is outside 2 < p < 2**32"
            raise ValueError(
                f"p = {p} {reason}; the field needs an odd prime below 2**32 "
                f"(nearest valid primes: {' and '.join(valid)})"
            )
        self.p = p
        self.half = (p - 1) // 2
        self.max_delayed_terms = max_delayed_terms(p)

    def __repr__(self) -> str:
        return f"PrimeField({self.p})"

    def __eq__(self, other) -> bool:
        return isinstance(other, PrimeField) and other.p == self.p

    def __hash__(self) -> int:
        return hash(("PrimeField", self.p))

    # -- embedding of signed integers (seed 004 eqs. 5 and 24) -------------------------------

    def embed(self, x) -> np.ndarray:
        """phi (eq. 5): signed integers in [-(p-1)/2, (p-1)/2] to field elements in [0, p)."""
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise TypeError(f"embed takes integer arrays, got dtype {x.dtype}; quantise reals first")
        x = x.astype(np.int64, copy=False)
        if x.size and (x.min() < -self.half or x.max() > self.half):
            raise ValueError(
                f"values in [{x.min()}, {x.max()}] would wrap around modulo p = {self.p}: "
                f"embed needs |x| <= (p-1)/2 = {self.half}"
            )
        return np.where(x < 0, x + self.p, x)

    def lift(self, a) -> np.ndarray:
        """phi^-1 (eq. 24): field elements to signed int64, values above (p-1)/2 being negative."""
        a = self.check(a, "a")
        return np.where(a > self.half, a - self.p, a)

    # -- validation ------------------------------------------------------------------------

    def check(self, a, name: str = "array") -> np.ndarray:
        """Return `a` as int64 after checking it holds integers in [0, p); raise otherwise."""
        a = np.asarray(a)
        check_elements(a, self.p, name)
        return a.astype(np.int64, copy=False)

    # -- wrap-around bounds ------------------------------------------------------------------

    def signed_fits(self, bound) -> bool:
        """Whether every signed integer of magnitude <= bound survives phi^-1(phi(x))."""
        return int(bound) <= self.half

    def inner_product_fits(self, k: int, bound_a, bound_b) -> bool:
        """Whether a length-k inner product of signed integers with |a| <= bound_a and
        |b| <= bound_b is recovered exactly from its value modulo p (|sum| <= (p-1)/2)."""
        return int(k) * int(bound_a) * int(bound_b) <= self.half

    def largest_safe_scale(self, max_abs: float, *, k: int = 1, other_bound: int = 1) -> int | None:
        """Largest l with k * Round(2**l * max_abs) * other_bound <= (p-1)/2, or None if even
        l = 0 wraps. Used to tell callers which quantisation parameter would be safe."""
        budget = self.half // max(int(k) * int(other_bound), 1)
        if max_abs == 0:
            return 62
        best = None
        for l in range(0, 63):
            if np.floor(float(max_abs) * 2.0**l + 0.5) > budget:
                break
            best = l
        return best


def as_field(field) -> PrimeField:
    """Accept a PrimeField or a plain int p (checked) and return a PrimeField."""
    if isinstance(field, PrimeField):
        return field
    if isinstance(field, numbers.Integral) and not isinstance(field, bool):
        return _field_of_int(int(field))
    return PrimeField(field)  # raises the TypeError that names what was given


@functools.lru_cache(maxsize=64)
def _field_of_int(p: int) -> PrimeField:
    # Miller-Rabin costs ~14 us: too much to repeat on every kernel call with a plain int p.
    return PrimeField(p)


def check_elements(a: np.ndarray, p: int, name: str = "array") -> None:
    """Raise TypeError unless `a` has an integer dtype, ValueError unless its entries lie in [0, p)."""
    if a.dtype.kind not in "iu":
        raise TypeError(
            f"{name} has dtype {a.dtype}; field kernels take integer arrays with entries in [0, {p}) "
            f"(quantise real data with pyprivml.quantize first)"
        )
    if a.size == 0:
        return
    if a.dtype.kind == "i" and a.dtype.itemsize * 8 - 1 >= p.bit_length():
        # One pass instead of min and max: seen as unsigned, negatives become >= 2**(bits-1) >= p.
        if a.view(a.dtype.str.replace("i", "u")).max() < p:
            return
    elif a.dtype.kind == "u" and a.max() < p:
        return
    lo, hi = a.min(), a.max()
    if lo < 0 or hi >= p:
        raise ValueError(
            f"{name} has entries in [{lo}, {hi}], outside the field [0, {p}); "
            f"reduce modulo p or embed signed values with PrimeField.embed"
        )
