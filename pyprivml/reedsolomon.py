"""Locating wrong evaluations of a polynomial over F_p: Berlekamp–Welch (Reed–Solomon decoding).

A Lagrange-coded computation gives the master evaluations y_i = h(x_i) of one polynomial h of
degree < k at distinct points x_i, one per worker; a Byzantine worker returns a wrong value. With
n received values and at most e wrong ones, n ≥ k + 2e, Berlekamp and Welch's key equation

    Q(x_i) = y_i E(x_i)   for every i,   E monic of degree e,  deg Q < k + e,

is a linear system of n equations in k + 2e unknowns over F_p; for any solution Q / E = h, and
the wrong values are where h(x_i) ≠ y_i. When more than e values are wrong, either no solution
divides evenly, or h disagrees with more than e values, or (only for more than n − k − e wrong
values) another polynomial within distance e is found: :func:`locate_errors` raises
:class:`TooManyErrors` in the first two cases, so with n ≥ k + 2e + 1 points e + 1 wrong values
are always detected.

The elimination updates the whole system per pivot with the field's vectorised multiply (the
systems have at most a few dozen unknowns, one per worker); the caller reduces a vector-valued
result to scalars by random linear combinations.

>>> p, xs = 97, [1, 2, 3, 4, 5, 6, 7]
>>> ys = [(3 + 5 * x + x * x) % p for x in xs]              # h(x) = 3 + 5x + x², k = 3
>>> ys[2] = (ys[2] + 11) % p; ys[5] = 0                      # two wrong values
>>> locate_errors(xs, ys, k=3, e=2, p=p)
[2, 5]
"""

from __future__ import annotations

import numpy as np

from ._poly import mulmod, vandermonde

__all__ = ["locate_errors", "TooManyErrors"]


class TooManyErrors(ValueError):
    """More wrong values than the decoder corrects."""


def _solve(A: np.ndarray, p: int) -> np.ndarray | None:
    """One solution of the augmented system A = [coefficients | b] mod p, or None: Gauss-Jordan
    elimination with one vectorised field update of the whole matrix per pivot."""
    A = np.array(A, dtype=np.int64) % p
    m = A.shape[1] - 1
    pivots, r = [], 0
    for c in range(m):
        nonzero = np.flatnonzero(A[r:, c])
        if nonzero.size == 0:
            continue
        i = r + int(nonzero[0])
        A[[r, i]] = A[[i, r]]
        A[r] = mulmod(A[r], pow(int(A[r, c]), -1, p), p)
        factors = A[:, c].copy()
        factors[r] = 0
        A = (A - mulmod(factors[:, None], A[r][None, :], p)) % p      # clear column c elsewhere
        pivots.append(c)
        r += 1
        if r == A.shape[0]:
            break
    if np.any((A[:, -1] != 0) & ~A[:, :-1].any(axis=1)):             # 0 = b with b != 0
        return None
    x = np.zeros(m, dtype=np.int64)
    x[pivots] = A[:len(pivots), -1]
    return x


def _divide(num: list, den: list, p: int):
    """(quotient, remainder) of polynomials given low degree first."""
    num = list(num)
    q = [0] * max(len(num) - len(den) + 1, 1)
    inv = pow(den[-1], -1, p)
    for i in range(len(num) - len(den), -1, -1):
        coef = num[i + len(den) - 1] * inv % p
        q[i] = coef
        for j, d in enumerate(den):
            num[i + j] = (num[i + j] - coef * d) % p
    return q, num[:len(den) - 1]


def locate_errors(xs, ys, *, k: int, e: int, p: int) -> list:
    """Indices i where y_i is not h(x_i), for the h of degree < k that agrees with all but at most
    e of the n ≥ k + 2e values; :class:`TooManyErrors` if no such h exists."""
    xs, ys = [int(x) % p for x in xs], [int(y) % p for y in ys]
    n = len(xs)
    if len(ys) != n or len(set(xs)) != n:
        raise ValueError("locate_errors needs one value per point and distinct points")
    if n < k + 2 * e:
        raise ValueError(f"{n} values cannot correct {e} errors of a polynomial of degree < {k}: "
                         f"that needs n >= k + 2e = {k + 2 * e}")
    x, y = np.array(xs, dtype=np.int64), np.array(ys, dtype=np.int64)
    V = vandermonde(x, k + e - 1, p)                                     # x_i^j, j < k + e
    if e == 0:
        if _solve(np.column_stack([V, y]), p) is None:
            raise TooManyErrors(f"the {n} values are not evaluations of one polynomial of degree < {k}")
        return []
    # Q(x_i) - y_i (E(x_i) - x_i^e) = y_i x_i^e: unknowns Q_0..Q_{k+e-1}, E_0..E_{e-1} (E monic)
    system = np.column_stack([V, (-mulmod(y[:, None], V[:, :e], p)) % p, mulmod(y, V[:, e], p)])
    sol = _solve(system, p)
    if sol is None:
        raise TooManyErrors(f"more than {e} of the {n} values are wrong (the key equation has no solution)")
    Q, E = sol[:k + e].tolist(), sol[k + e:].tolist() + [1]
    h, remainder = _divide(Q, E, p)
    if any(remainder):
        raise TooManyErrors(f"more than {e} of the {n} values are wrong (E does not divide Q)")
    values = np.zeros(n, dtype=np.int64)
    for c in reversed(h):                                                # Horner at every point at once
        values = (mulmod(values, x, p) + c) % p
    wrong = np.flatnonzero(values != y).tolist()
    if len(wrong) > e:
        raise TooManyErrors(f"{len(wrong)} of the {n} values disagree with the decoded polynomial, more than {e}")
    return wrong
