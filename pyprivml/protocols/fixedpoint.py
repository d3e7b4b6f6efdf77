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

__all__ = ["FixedPointPlan", "WrapAroundGuard", "WrapAroundError", "s_bar", "auto_lc", "PlanChoice", "choose_plan",
           "weight_reach", "momentum_allowance", "MAX_PRIME"]

#: Relative inflation of the float64 bounds (see the module docstring).
_MARGIN = 1.0 + 1e-6
#: The largest prime the field kernels accept (p < 2**32): the ceiling of the automatic plan.
MAX_PRIME = 2**32 - 5
#: The automatic prime is never below this (room for the N + K distinct Lagrange points).
_MIN_AUTO_PRIME = 2**16
#: An automatic lx gives the data at least 2^MIN_DATA_BITS levels up to max|x| (Algorithm 1's lx = 3
#: on data in [0, 1]), an automatic lw the weights 2^MIN_WEIGHT_BITS levels up to w_bound: below
#: that, training on the quantised values is not worth running, and the plan says so instead.
MIN_DATA_BITS = 3
MIN_WEIGHT_BITS = 4


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
    #: the radius ||w||_2 <= radius the run's weights are kept in (None: unknown); a failure's
    #: suggestions then cover every weight of the run, not only the weights that failed
    radius: float | None = None

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
        b2, binf = self._weight_bounds(w, plan.lw)
        return self._bound(b2, binf, plan, moments or self._m)

    def ball_bound(self, radius: float, *, plan: FixedPointPlan | None = None, moments: dict | None = None) -> float:
        """An upper bound on max_k |G_k| for EVERY w with ||w||_2 <= radius (and any draw).

        Entrywise ``|w̄_j| <= floor(2^lw |w|) + 1``, so ``||w̄_j||_2 <= 2^lw ||w||_2 + sqrt(d)``
        (Minkowski) and ``||w̄_j||_inf <= floor(2^lw radius) + 1``: the bound of :meth:`bound`
        with those two weight norms holds for the whole ball, hence for a whole run whose
        weights are kept inside it (:func:`choose_plan`)."""
        plan = plan or self.plan
        radius = float(radius)
        if not radius >= 0:
            raise ValueError(f"the weight radius must be >= 0, got {radius!r}")
        scaled = radius * 2.0 ** plan.lw
        b2 = (scaled + math.sqrt(self.X.shape[1])) * _MARGIN
        binf = math.floor(scaled) + 1.0
        return self._bound(b2, binf, plan, moments or self._m)

    def max_safe_radius(self, *, plan: FixedPointPlan | None = None, moments: dict | None = None) -> float:
        """The largest radius R (to 40 bits) such that the ball ||w||_2 <= R is proven safe (0 if none)."""
        plan = plan or self.plan
        half = plan.field.half

        def ok(R):
            return self.ball_bound(R, plan=plan, moments=moments) <= half

        if not ok(0.0):
            return 0.0
        lo, hi = 0.0, 1.0
        while ok(hi) and hi < 2.0 ** 60:
            lo, hi = hi, hi * 2
        for _ in range(48):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return lo

    def _bound(self, b2: float, binf: float, plan: FixedPointPlan, m: dict) -> float:
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
        # Suggestions must hold for every weight of the run: for the run's ball when it is known.
        run_w = np.asarray(w, dtype=np.float64)

        def bound(trial, moments=None):
            b_w = self.bound(run_w, plan=trial, moments=moments)
            if self.radius is None:
                return b_w
            return max(b_w, self.ball_bound(self.radius, plan=trial, moments=moments))

        for lw in range(plan.lw - 1, -1, -1):
            trial = FixedPointPlan(F, plan.lx, lw, plan.coefficients, plan.lc)
            if bound(trial) <= F.half:
                hints.append(f"lw <= {lw} (with lx = {plan.lx})")
                break
        for lx in range(plan.lx - 1, -1, -1):
            trial = FixedPointPlan(F, lx, plan.lw, plan.coefficients, plan.lc)
            if bound(trial, self._moments(lx)) <= F.half:
                hints.append(f"lx <= {lx} (with lw = {plan.lw})")
                break
        b = max(b, bound(plan))
        p_safe = next_prime(2 * math.ceil(b) + 1)
        hints.append(f"p >= {p_safe}" if p_safe < 2**32 else
                     "no prime below 2**32 is large enough: scale the data down")
        return (f"{when + ': ' if when else ''}decoded gradient entries could reach {b:.4g} in magnitude, "
                f"beyond (p-1)/2 = {F.half} for p = {F.p} (lx = {plan.lx}, lw = {plan.lw}, "
                f"lc = {plan.lc}, max |w| = {float(np.max(np.abs(w), initial=0.0)):.4g}), so phi^-1 "
                f"(eq. 24) could return a wrapped-around value. Safe choices: " + "; ".join(hints))


# -- the automatic plan: scales and prime proven for a whole run --------------------------------------


#: Nesterov's schedule t/(t+3): an allowance over J eta ||grad f(0)||_2 (see :func:`weight_reach`).
NESTEROV_REACH = 2.5


def momentum_allowance(optimizer: str = "gd", momentum: float | None = None) -> float:
    """How much farther than gradient descent's J eta ||grad f(0)|| a momentum method is allowed to go.

    1 for gradient descent (a proof, below); 2.5 for Nesterov's schedule; 1 + beta / (3 (1 - beta))
    for a constant beta (4 for heavy ball's default 0.9). The last two are measured, not proven: on
    digits 4-vs-9 and breast cancer (min-max and standard scaling) and three synthetic sets, the
    largest ||w_t||_2 / (t eta ||grad f(0)||_2) over t <= 1000 was 2.0 for Nesterov and 3.3 for
    heavy ball with beta = 0.9, reached around t = 10-20 and falling after (to 0.2-0.5 at t = 300);
    a proof for every spectrum would have to allow J / 8 (the flat directions), 37 at J = 300."""
    if optimizer == "gd":
        return 1.0
    if optimizer == "nesterov" and momentum is None:
        return NESTEROV_REACH
    beta = 0.9 if momentum is None else float(momentum)
    return 1.0 + beta / (3.0 * (1.0 - beta))


def weight_reach(X, y, c0: float, lr: float, iterations: int, *, optimizer: str = "gd",
                 momentum: float | None = None) -> tuple[float, str]:
    """R = a J eta ||grad f(0)||_2: how far from w = 0 the run's weights are expected to go.

    ``grad f(0) = X^T (s_hat(0) - y) / m`` is the gradient of eq. (17) at the start (s_hat(0) = c_0).
    For plain gradient descent on the convex objective with eta <= 2/L the gradient norm never
    grows, so ``||w_t||_2 <= t eta ||grad f(0)||_2``: R with a = 1 bounds every iterate. Momentum
    methods come with no such bound of useful size, so a is :func:`momentum_allowance`, and the
    master keeps every point it queries inside the ball ||w||_2 <= R by projection: the plan
    proven for the ball then holds for the whole run whatever the optimiser does, and the report
    says if the projection was ever active. Returns (R, a sentence saying how R was obtained)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    g0 = float(np.linalg.norm(X.T @ (float(c0) - y))) / X.shape[0]
    a = momentum_allowance(optimizer, momentum)
    R = a * int(iterations) * float(lr) * g0
    if not R > 0 or not math.isfinite(R):
        return 1.0, (f"||grad f(0)||_2 = {g0:.3g}, so J eta ||grad f(0)||_2 gives no scale: "
                     f"||w||_2 <= 1 (pass w_bound to choose another)")
    return R, (f"a J eta ||grad f(0)||_2 = {a:g} x {int(iterations)} x {float(lr):.4g} x {g0:.4g} = {R:.4g}, how far "
               f"{int(iterations)} {optimizer} steps are expected to take w from 0 (a = 1 would be a bound for "
               f"gradient descent; every point sent is kept in the ball by projection)")


@dataclass(frozen=True)
class PlanChoice:
    """A fixed-point plan proven for a whole run: every weight vector the master ever sends lies in
    the ball ||w||_2 <= ``radius``, and for every such w (and every stochastic draw) the decoded
    gradient entries are at most ``bound`` <= (p-1)/2 in magnitude.

    ``automatic`` names the parameters that were chosen rather than given, ``reasons`` says why
    each has its value, ``warnings`` what the user should know before training."""

    plan: FixedPointPlan
    radius: float
    bound: float
    automatic: tuple = ()
    reasons: dict = field(default_factory=dict)
    warnings: tuple = ()

    def as_dict(self) -> dict:
        p = self.plan
        return {"lx": p.lx, "lw": p.lw, "lc": p.lc, "p": p.field.p, "w_bound": self.radius, "bound": self.bound,
                "half": p.field.half, "automatic": list(self.automatic), "reasons": dict(self.reasons),
                "warnings": list(self.warnings)}

    def describe(self) -> str:
        p = self.plan
        head = (f"lx = {p.lx}, lw = {p.lw}, lc = {p.lc}, p = {p.field.p}, ||w||_2 <= {self.radius:.4g}: "
                f"decoded entries |G| <= {self.bound:.4g} <= (p-1)/2 = {p.field.half} for every iteration")
        return head + "".join(f"; {k}: {v}" for k, v in self.reasons.items())


class _Search:
    """The wrap-around bound of a ball for trial scales, the data's moments cached per lx."""

    def __init__(self, X, coefficients, field_):
        self.X = np.asarray(X, dtype=np.float64)
        self.coefficients = tuple(float(c) for c in coefficients)
        self.field = field_
        self.xmax = float(np.max(np.abs(self.X), initial=0.0))
        self._moments: dict = {}
        self._guard = None

    def plan(self, lx, lw, lc, field_=None):
        return FixedPointPlan(field_ or self.field, int(lx), int(lw), self.coefficients, lc)

    def moments(self, lx):
        if lx not in self._moments:
            plan = self.plan(lx, 0, None)
            if self._guard is None:
                self._guard = WrapAroundGuard(self.X, plan)
                self._moments[lx] = self._guard._m
            else:
                self._moments[lx] = self._guard._moments(lx)
        return self._moments[lx]

    def need(self, lx, lw, lc, radius) -> float:
        """The largest signed integer the run can produce: decoded entries, data, weights, coefficients."""
        plan = self.plan(lx, lw, lc)
        data = math.floor(self.xmax * 2.0 ** lx + 0.5)
        weights = math.floor(radius * 2.0 ** lw) + 1
        coeffs = float(np.abs(plan.signed_coefficients()).max())
        if max(data, weights, coeffs) > self.field.half:  # the data would not even embed
            return math.inf
        self.moments(lx)
        G = self._guard.ball_bound(radius, plan=plan, moments=self._moments[lx])
        return max(G, data, weights, coeffs)

    def fits(self, lx, lw, lc, radius) -> bool:
        return lx <= 30 and lw <= 30 and (lc is None or lc <= 30) and \
            self.need(lx, lw, lc, radius) <= self.field.half


def _no_plan(search: _Search, lx, lw, lc, radius, what: str) -> WrapAroundError:
    """The error when no plan covers the ball: the bound, and choices that would cover the whole run."""
    F = search.field
    plan = search.plan(lx, lw, lc)
    b = search.need(lx, lw, lc, radius)
    hints = []
    for lw_ in range(lw - 1, -1, -1):
        if search.fits(lx, lw_, lc, radius):
            hints.append(f"lw <= {lw_} (with lx = {lx})")
            break
    for lx_ in range(lx - 1, -1, -1):
        if search.fits(lx_, lw, lc, radius):
            hints.append(f"lx <= {lx_} (with lw = {lw})")
            break
    if math.isfinite(b) and 2 * math.ceil(b) + 1 < MAX_PRIME:
        hints.append(f"p >= {next_prime(2 * math.ceil(b))}")
    else:
        hints.append("no prime below 2**32 is large enough for these scales: scale the data down or lower lx, lw")
    R_max = search._guard.max_safe_radius(plan=plan, moments=search._moments.get(lx)) \
        if search._guard is not None and lx in search._moments else 0.0
    if R_max > 0:
        hints.append(f"w_bound <= {R_max:.4g} (keep the weights in a smaller ball)")
    if 2.0 ** plan.exponent > MAX_PRIME // 2:
        # Even |x| = |w| = 1 would wrap: the scales of eq. (23) alone exceed every prime the kernels take.
        hints.insert(0, f"a lower degree r or smaller scales (l = lx + lc + r(lx + lw) = {plan.exponent} bits "
                        f"with r = {plan.r}, but (p-1)/2 < 2^{(MAX_PRIME // 2).bit_length()} for every p < 2**32)")
    shown = f"{b:.4g}" if math.isfinite(b) else "beyond the field"
    return WrapAroundError(
        f"before training: decoded gradient entries could reach {shown} in magnitude for weights with "
        f"||w||_2 <= {radius:.4g} ({what}), beyond (p-1)/2 = {F.half} for p = {F.p} (lx = {lx}, lw = {lw}, "
        f"lc = {plan.lc}), so phi^-1 (eq. 24) could return a wrapped-around value. Safe choices for the "
        f"whole run: " + "; ".join(hints))


def choose_plan(X, coefficients, *, lx=None, lw=None, lc=None, p=None, radius=None, reach=None,
                reach_reason: str = "") -> PlanChoice:
    """The fixed-point plan of a run, proven before the first iteration for every iteration.

    Parameters given (not None) are kept; the others are chosen:

    * ``radius`` (``w_bound``): the ball ||w||_2 <= radius the master keeps the weights in. When
      lx, lw and p are all given it defaults to the largest radius their proof admits (weights
      that would leave it are projected back, never refused midway); otherwise to ``reach``
      (:func:`weight_reach`: from the learning rate, the iteration budget and the data).
    * ``lx``, ``lw``: the largest the wrap-around proof admits for that ball with the prime (given,
      or the largest the kernels accept, 2**32 - 5). Grown one bit at a time
      from zero, lw first (a bit of lw costs one bit of the bound, a bit of lx two),
      until neither can grow, so that one more bit of either would break the proof; from the
      floors :data:`MIN_DATA_BITS`, :data:`MIN_WEIGHT_BITS` if that leaves one below them.
    * ``lc``: :func:`auto_lc` (the fewest bits within 10 %), then as many more as the proof admits.
    * ``p``: the smallest prime above twice the final bound (at least 2**16), so one more bit
      of lx or lw would need a prime the kernels do not accept.

    Raises :class:`WrapAroundError` (saying what would cover the whole run) when nothing does.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).uniform(0, 1, (200, 5))
    >>> choice = choose_plan(X, (0.5, 0.1312), radius=10.0)
    >>> choice.plan.lx, choice.plan.lw, choice.radius, choice.bound <= choice.plan.field.half
    (6, 8, 10.0, True)
    """
    X = np.asarray(X, dtype=np.float64)
    coefficients = tuple(float(c) for c in coefficients)
    given = {"lx": lx, "lw": lw, "lc": lc, "p": p, "w_bound": radius}
    automatic = tuple(k for k, v in given.items() if v is None)
    search = _Search(X, coefficients, PrimeField(MAX_PRIME if p is None else p))
    reasons, warnings = {}, []
    fixed = lx is not None and lw is not None and p is not None
    if reach is None:
        reach = 1.0
    if fixed and radius is None:
        # A plan the user fixed: the largest ball it proves (projection, never a refusal midway).
        lc_ = lc
        if not search.fits(lx, lw, lc_, 0.0):
            raise _no_plan(search, lx, lw, lc_, reach, "the reach of this run: " + reach_reason)
        plan = search.plan(lx, lw, lc_)
        search.moments(lx)
        R = search._guard.max_safe_radius(plan=plan, moments=search._moments[lx])
        reasons["w_bound"] = (f"{R:.4g}, the largest radius the proof admits for the given lx, lw and p "
                              f"(weights are projected onto this ball if they reach it)")
        if R < reach:
            hint = _no_plan(search, lx, lw, lc_, reach, "")
            warnings.append(f"the given lx = {lx}, lw = {lw}, p = {p} prove only ||w||_2 <= {R:.4g}, below the "
                            f"reach of this run, {reach:.4g} ({reach_reason}); if the weights get there they are "
                            f"held on that ball. " + str(hint).split("Safe choices for the whole run: ")[1]
                            .replace("w_bound <= ", "(now) w_bound <= "))
        lx_, lw_ = lx, lw
    else:
        R = float(reach if radius is None else radius)
        reasons["w_bound"] = ("given" if radius is not None else reach_reason) or f"{R:.4g}"
        # Chosen scales start at a useful resolution: data and weights with at least 2^MIN_*_BITS levels.
        x_floor = 0 if search.xmax == 0 else max(0, math.ceil(math.log2(2 ** MIN_DATA_BITS / search.xmax)))
        w_floor = max(0, math.ceil(math.log2(2 ** MIN_WEIGHT_BITS / R)))
        x_floor, w_floor = (min(x_floor, 30) if lx is None else lx), (min(w_floor, 30) if lw is None else lw)

        def grow(lx_, lw_):
            while True:
                grew = False
                if lw is None and search.fits(lx_, lw_ + 1, lc, R):
                    lw_, grew = lw_ + 1, True
                if lx is None and search.fits(lx_ + 1, lw_, lc, R):
                    lx_, grew = lx_ + 1, True
                if not grew:
                    return lx_, lw_

        # From zero (alternating, so neither scale starves the other); from the floors if that
        # leaves one below its useful resolution; and if even the floors do not fit, say so.
        lx_, lw_ = grow(0 if lx is None else lx, 0 if lw is None else lw) \
            if search.fits(0 if lx is None else lx, 0 if lw is None else lw, lc, R) else (-1, -1)
        if lx_ < x_floor or lw_ < w_floor:
            if not search.fits(x_floor, w_floor, lc, R):
                what = "the given w_bound" if radius is not None else "the reach of this run: " + reach_reason
                if lx is None or lw is None:
                    what += (f"; an automatic plan keeps at least {MIN_DATA_BITS} bits of data resolution "
                             f"(2^lx max|x| >= {2 ** MIN_DATA_BITS}) and {MIN_WEIGHT_BITS} of weight resolution "
                             f"(2^lw w_bound >= {2 ** MIN_WEIGHT_BITS})")
                raise _no_plan(search, x_floor, w_floor, lc, R, what)
            lx_, lw_ = grow(x_floor, w_floor)
        lc_ = lc
        if lc is None:
            lc_ = search.plan(lx_, lw_, None).lc
            while search.fits(lx_, lw_, lc_ + 1, R):
                lc_ += 1
    b = search.need(lx_, lw_, lc_, R)
    if p is None:
        p_final = next_prime(max(2 * math.ceil(b), _MIN_AUTO_PRIME))
        reasons["p"] = (f"{p_final}, the smallest prime above twice the proven bound {b:.4g} "
                        f"(the kernels accept primes up to 2**32 - 5)")
    else:
        p_final = int(p)
    plan = search.plan(lx_, lw_, lc_, PrimeField(p_final))
    if lx is None or lw is None:
        more = []
        for name, trial in (("lx", (lx_ + 1, lw_)), ("lw", (lx_, lw_ + 1))):
            if given[name] is None:
                nb = search.need(trial[0], trial[1], lc_, R)
                more.append(f"{name} + 1 would need {nb:.4g}" if math.isfinite(nb) else f"{name} + 1 would not embed")
        ceiling = f"(p-1)/2 = {search.field.half} of p = {search.field.p}"
        for name in ("lx", "lw"):
            if given[name] is None:
                reasons[name] = (f"{getattr(plan, name)}, the largest the proof admits for ||w||_2 <= {R:.4g} "
                                 f"under {ceiling} ({'; '.join(more)})")
    if lc is None:
        reasons["lc"] = (f"{plan.lc}: at least the {auto_lc(coefficients, plan.a)} bits that keep every "
                         f"coefficient within 10 %, and as many more as the proof admits")
    return PlanChoice(plan, float(R), float(b), automatic, reasons, tuple(warnings))
