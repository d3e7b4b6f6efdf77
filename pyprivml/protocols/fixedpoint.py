r"""Fixed-point bookkeeping of CodedPrivateML and the proof that no decoded value wraps around mod p.

Scales (every quantity is an integer that stands for a real times a power of two)
---------------------------------------------------------------------------------
* Data, eq. (4): ``x̄ = Round(2^lx x)``, scale ``2^lx``.
* Weights, eqs. (6)-(8): ``w̄_j = Round_stoc(2^lw w)``, scale ``2^lw``, r independent copies.
* One logit, ``z̄_j = x̄ · w̄_j``: scale ``2^a`` with ``a = lx + lw``; a product of i logits
  (the i-th term of eq. 15) has scale ``2^(i a)``.
* Coefficients of s_hat (eq. 13): term i must be brought to the common scale of the highest term,
  ``2^(r a)``, so the seed's eq. (23) exponent ``l = lx + r(lx + lw)`` implies
  ``c̄_i = Round(c_i 2^((r-i) a))``. That rounds the top coefficient with scale 1: c_1 = 0.131 of
  the degree-1 fit would become 0, and training would stall. We therefore give every coefficient
  ``lc`` extra bits (:func:`auto_lc`: the fewest that keep every coefficient within 10%):
  ``c̄_i = Round(c_i 2^(lc + (r-i) a))``, so that every term of
  ``s̄ = sum_i c̄_i prod_{j<=i} z̄_j`` (eq. 15) has scale ``2^(lc + r a)``.
* Worker result and decoded gradient, eqs. (18)-(22): ``X̄^T s̄`` has scale ``2^l`` with the
  final exponent ``l = lx + lc + r (lx + lw)`` (eq. 23 with ``lc = 0``), so
  ``X^T s_hat(X w) ~ phi^-1(decoded) / 2^l``.

Why nothing wraps around
------------------------
Everything the workers compute is exact modulo p, and Lagrange decoding (eq. 21) returns the
exact residue of the integer ``G_k = sum_n x̄_nk s̄_n``. ``phi^-1`` (eq. 24) recovers ``G_k``
itself iff ``|G_k| <= (p-1)/2``. With ``A_n`` an upper bound on a norm of row n of X̄ and
``B`` one on the dual norm of every weight copy, ``|z̄_nj| <= A_n B`` (Hölder), hence

    |G_k| <= |c̄_0 S_k| + sum_{i>=1} |c̄_i| B^i M_ik,   S_k = sum_n x̄_nk,   M_ik = sum_n |x̄_nk| A_n^i,

maximised over k, for the pairs (l2 rows, l2 weights) and (l1 rows, l-infinity weights); we take
the smaller. S and M depend on the data only and are computed once (d-vectors); B needs only
``max |w|`` or ``||w||_2``,
``|w̄_j| <= floor(2^lw |w|) + 1`` entrywise whatever the stochastic draw, so the per-iteration
check costs O(r d) (:meth:`WrapAroundGuard.check`). Sums are computed in float64 on non-negative
terms (relative error below ``n 2^-53``) and inflated by a relative margin of 1e-6, which keeps
the bound an upper bound for any n below 10^9.

>>> import numpy as np
>>> from pyprivml import PrimeField
>>> plan = FixedPointPlan(PrimeField(), lx=2, lw=4, coefficients=(0.5, 0.1312))
>>> plan.lc, plan.exponent, plan.signed_coefficients().tolist()
(3, 11, [256, 1])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..field import PrimeField, next_prime
from ..linalg import modcombine, modmul
from ..quantization import quantize, round_half_up

__all__ = ["FixedPointPlan", "WrapAroundGuard", "WrapAroundError", "s_bar", "auto_lc"]

#: Relative inflation of the float64 bounds (see the module docstring).
_MARGIN = 1.0 + 1e-6


class WrapAroundError(ValueError):
    """A decoded value could exceed (p-1)/2 in magnitude and would come back wrong from phi^-1."""


def auto_lc(coefficients, a: int, tolerance: float = 0.1) -> int:
    """The smallest lc >= 0 that rounds every coefficient within ``tolerance`` relative error.

    The coefficient of degree i is scaled by 2^(lc + (r-i) a) before rounding (eq. 3). Each extra
    bit of lc costs one bit of the (p-1)/2 budget of the decoded gradient, so we ask for a
    relative error, not a number of bits: for the degree-1 fit on [-5, 5], c_1 = 0.1312 becomes
    1/8 with lc = 3 (4.7% off, a slightly smaller learning rate in effect) where 3 significant
    bits would cost lc = 6.
    """
    r = len(coefficients) - 1
    for lc in range(0, 31):
        ok = True
        for i, c in enumerate(coefficients):
            scale = 2.0 ** (lc + (r - i) * a)
            if c != 0 and abs(float(round_half_up(c * scale)) / scale - c) > tolerance * abs(c):
                ok = False
                break
        if ok:
            return lc
    return 30


@dataclass(frozen=True)
class FixedPointPlan:
    """The scales lx, lw, lc of one CodedPrivateML run and the polynomial they quantise.

    ``coefficients`` are the real c_0..c_r of eq. (13); ``lc=None`` picks :func:`auto_lc`.
    """

    field: PrimeField
    lx: int
    lw: int
    coefficients: tuple
    lc: int | None = None

    def __post_init__(self):
        for name in ("lx", "lw"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= 30:
                raise ValueError(f"{name} must be an integer in [0, 30], got {v!r}")
        coeffs = tuple(float(c) for c in self.coefficients)
        if len(coeffs) < 2:
            raise ValueError("the polynomial needs degree r >= 1 (at least two coefficients)")
        object.__setattr__(self, "coefficients", coeffs)
        if self.lc is None:
            object.__setattr__(self, "lc", auto_lc(coeffs, self.a))
        elif isinstance(self.lc, bool) or not isinstance(self.lc, (int, np.integer)) or not 0 <= self.lc <= 30:
            raise ValueError(f"lc must be an integer in [0, 30] or None (automatic), got {self.lc!r}")

    @property
    def r(self) -> int:
        """Degree of s_hat, and the number of stochastic copies of w (eq. 7)."""
        return len(self.coefficients) - 1

    @property
    def a(self) -> int:
        """Exponent of one logit x̄ · w̄_j."""
        return self.lx + self.lw

    @property
    def exponent(self) -> int:
        """The l of eq. (23): decoded X̄^T s̄ is the real X^T s_hat(X w) times 2^l."""
        return self.lx + self.lc + self.r * self.a

    def signed_coefficients(self) -> np.ndarray:
        """c̄_i = Round(c_i 2^(lc + (r-i) a)) as signed integers (eq. 3 rounding)."""
        r = self.r
        scaled = [c * 2.0 ** (self.lc + (r - i) * self.a) for i, c in enumerate(self.coefficients)]
        return round_half_up(np.array(scaled)).astype(np.int64)

    def field_coefficients(self) -> np.ndarray:
        """c̄_i embedded in the field with phi (eq. 5); raises if one would wrap around mod p."""
        c = self.signed_coefficients()
        biggest = int(np.abs(c).max())
        if biggest > self.field.half:
            from ..field import next_prime

            raise ValueError(
                f"the quantised sigmoid coefficients c̄_i = Round(c_i 2^(lc + (r-i)(lx+lw))) reach {biggest}, "
                f"above (p-1)/2 = {self.field.half} for p = {self.field.p} (lx = {self.lx}, lw = {self.lw}, "
                f"lc = {self.lc}, r = {self.r}): use p >= {next_prime(2 * biggest)} or smaller lx, lw or lc")
        return self.field.embed(c)

    def effective_coefficients(self) -> np.ndarray:
        """The real polynomial the protocol really evaluates: c̄_i / 2^(lc + (r-i) a)."""
        r = self.r
        return np.array([c / 2.0 ** (self.lc + (r - i) * self.a)
                         for i, c in enumerate(self.signed_coefficients())])


def s_bar(Z, coefficients, field: PrimeField) -> np.ndarray:
    """Eq. (15) over F_p: ``sum_i c̄_i prod_{j<=i} Z[:, j]`` for Z of shape (n, r) (Z = X̄ W̄).

    ``coefficients`` are the field elements c̄_0..c̄_r; the empty product (i = 0) is 1.
    """
    Z = np.asarray(Z)
    n, r = Z.shape
    if len(coefficients) != r + 1:
        raise ValueError(f"s_bar: {r} weight copies need {r + 1} coefficients, got {len(coefficients)}")
    powers = np.empty((r + 1, n), dtype=np.int64)
    powers[0] = 1
    for i in range(1, r + 1):
        powers[i] = modmul(powers[i - 1], Z[:, i - 1], field, check=False)
    c = np.asarray(coefficients, dtype=np.int64).reshape(1, -1)
    return modcombine(c, powers, field, check=False)[0]


@dataclass
class WrapAroundGuard:
    """Norms of X̄ computed once, and the O(d) per-iteration proof that G = X̄^T s̄ cannot wrap.

    ``X`` is the real data (kept so a failure can name safe lx); ``plan`` the scales.
    """

    X: np.ndarray
    plan: FixedPointPlan
    _m: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._m = self._moments(self.plan.lx)

    def _moments(self, lx: int) -> dict:
        Xbar = self.plan.field.lift(quantize(self.X, lx, self.plan.field)).astype(np.float64)
        out = {"S": np.abs(Xbar.sum(axis=0))}  # exact: integers far below 2**53
        Xbar = np.abs(Xbar)
        for name, A in (("l2", np.sqrt((Xbar * Xbar).sum(axis=1))), ("l1", Xbar.sum(axis=1))):
            A = A * _MARGIN
            out[name] = [(Xbar * (A ** i)[:, None]).sum(axis=0) * _MARGIN for i in range(1, self.plan.r + 1)]
        return out

    @staticmethod
    def _weight_bounds(w, lw: int) -> tuple[float, float]:
        """Bounds on ||w̄_j||_2 and ||w̄_j||_inf over every stochastic draw."""
        top = np.floor(np.abs(np.asarray(w, dtype=np.float64)) * 2.0 ** lw) + 1.0
        return float(np.sqrt((top * top).sum())) * _MARGIN, float(top.max(initial=1.0))

    def bound(self, w, *, plan: FixedPointPlan | None = None, moments: dict | None = None) -> float:
        """An upper bound on max_k |G_k| for weights w (any draw of the r stochastic copies)."""
        plan = plan or self.plan
        m = moments or self._m
        b2, binf = self._weight_bounds(w, plan.lw)
        c = np.abs(plan.signed_coefficients()).astype(np.float64)
        via = []
        for B, M in ((b2, m["l2"]), (binf, m["l1"])):
            total = c[0] * m["S"]
            for i in range(1, plan.r + 1):
                total = total + c[i] * B ** i * M[i - 1]
            via.append(float(total.max(initial=0.0)))
        return min(via) * _MARGIN

    def check(self, w, *, when: str = "") -> float:
        """Return the bound; raise :class:`WrapAroundError` naming safe lx, lw and p if it is too big."""
        b = self.bound(w)
        F = self.plan.field
        if b <= F.half:
            return b
        raise WrapAroundError(self._explain(w, b, when))

    def max_safe_weight(self) -> float:
        """The largest t such that weights with every |w_k| <= t are proven safe (0 if none)."""
        d = self.X.shape[1]
        if self.bound(np.zeros(d)) > self.plan.field.half:
            return 0.0
        lo, hi = 0.0, 1.0
        while self.bound(np.full(d, hi)) <= self.plan.field.half and hi < 2.0 ** 40:
            lo, hi = hi, hi * 2
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.bound(np.full(d, mid)) <= self.plan.field.half else (lo, mid)
        return lo

    def _explain(self, w, b, when) -> str:
        plan, F = self.plan, self.plan.field
        hints = []
        if 2.0 ** plan.exponent > F.half:
            # Even |x| = |w| = 1 would wrap: the scales of eq. (23) alone exceed p, whatever the data.
            hints.append(f"a lower degree r or smaller scales (l = lx + lc + r(lx + lw) = {plan.exponent} "
                         f"bits with r = {plan.r}, but (p-1)/2 < 2^{F.half.bit_length()})")
        for lw in range(plan.lw - 1, -1, -1):
            trial = FixedPointPlan(F, plan.lx, lw, plan.coefficients, plan.lc)
            if self.bound(w, plan=trial) <= F.half:
                hints.append(f"lw <= {lw} (with lx = {plan.lx})")
                break
        for lx in range(plan.lx - 1, -1, -1):
            trial = FixedPointPlan(F, lx, plan.lw, plan.coefficients, plan.lc)
            if self.bound(w, plan=trial, moments=self._moments(lx)) <= F.half:
                hints.append(f"lx <= {lx} (with lw = {plan.lw})")
                break
        p_safe = next_prime(2 * math.ceil(b) + 1)
        hints.append(f"p >= {p_safe}" if p_safe < 2**32 else
                     "no prime below 2**32 is large enough: scale the data down")
        return (f"{when + ': ' if when else ''}decoded gradient entries could reach {b:.4g} in magnitude, "
                f"beyond (p-1)/2 = {F.half} for p = {F.p} (lx = {plan.lx}, lw = {plan.lw}, "
                f"lc = {plan.lc}, max |w| = {float(np.max(np.abs(w), initial=0.0)):.4g}), so phi^-1 "
                f"(eq. 24) could return a wrapped-around value. Safe choices: " + "; ".join(hints))
