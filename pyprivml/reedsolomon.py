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

The arithmetic is on Python integers (the systems are at most a few dozen unknowns: one per
worker); the caller reduces a vector-valued result to scalars by random linear combinations.

>>> p, xs = 97, [1, 2, 3, 4, 5, 6, 7]
>>> ys = [(3 + 5 * x + x * x) % p for x in xs]              # h(x) = 3 + 5x + x², k = 3
>>> ys[2] = (ys[2] + 11) % p; ys[5] = 0                      # two wrong values
>>> locate_errors(xs, ys, k=3, e=2, p=p)
[2, 5]
"""

from __future__ import annotations

__all__ = ["locate_errors", "TooManyErrors"]


class TooManyErrors(ValueError):
    """More wrong values than the decoder corrects."""


def _solve(rows: list, p: int) -> list | None:
    """One solution of the augmented system rows (each [a_1..a_m | b]) mod p, or None."""
    m = len(rows[0]) - 1
    A = [list(r) for r in rows]
    pivots, r = [], 0
    for c in range(m):
        pivot = next((i for i in range(r, len(A)) if A[i][c] % p), None)
        if pivot is None:
            continue
        A[r], A[pivot] = A[pivot], A[r]
        inv = pow(A[r][c], -1, p)
        A[r] = [v * inv % p for v in A[r]]
        for i in range(len(A)):
            if i != r and A[i][c]:
                f = A[i][c]
                A[i] = [(a - f * b) % p for a, b in zip(A[i], A[r])]
        pivots.append(c)
        r += 1
    if any(row[-1] % p and not any(v % p for v in row[:-1]) for row in A):
        return None
    x = [0] * m
    for i, c in enumerate(pivots):
        x[c] = A[i][-1]
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
    if e == 0:
        rows = [[pow(x, j, p) for j in range(k)] + [y] for x, y in zip(xs, ys)]
        if _solve(rows, p) is None:
            raise TooManyErrors(f"the {n} values are not evaluations of one polynomial of degree < {k}")
        return []
    rows = []
    for x, y in zip(xs, ys):
        powers = [pow(x, j, p) for j in range(k + e)]
        rows.append(powers + [(-y * powers[j]) % p for j in range(e)] + [y * pow(x, e, p) % p])
    sol = _solve(rows, p)
    if sol is None:
        raise TooManyErrors(f"more than {e} of the {n} values are wrong (the key equation has no solution)")
    Q, E = sol[:k + e], sol[k + e:] + [1]
    h, remainder = _divide(Q, E, p)
    if any(remainder):
        raise TooManyErrors(f"more than {e} of the {n} values are wrong (E does not divide Q)")
    wrong = [i for i, (x, y) in enumerate(zip(xs, ys)) if sum(c * pow(x, j, p) for j, c in enumerate(h)) % p != y]
    if len(wrong) > e:
        raise TooManyErrors(f"{len(wrong)} of the {n} values disagree with the decoded polynomial, more than {e}")
    return wrong
