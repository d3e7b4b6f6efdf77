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

Over several primes q_1..q_k (``FixedPointPlan.primes``) the master lifts the k decoded residues
of G_k by the Chinese remainder theorem (:mod:`pyprivml.crt`), which recovers G_k iff
``|G_k| <= (q_1 ... q_k - 1)/2`` (``FixedPointPlan.half``): the same bound, held to that budget
(:func:`choose_plan` picks k when asked). The data and weights are quantised in the largest
prime and must fit it; the coefficients are reduced exactly modulo each prime.

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

from ..crt import CRT
from ..field import PrimeField, largest_primes, next_prime
from ..linalg import modcombine, modmul
from ..quantization import quantize, round_half_up

__all__ = ["FixedPointPlan", "WrapAroundGuard", "WrapAroundError", "s_bar", "auto_lc", "PlanChoice", "choose_plan",
           "weight_reach", "momentum_allowance", "MAX_PRIME", "MAX_PRIMES", "check_primes", "primes_argument",
           "primes_needed"]

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
    """The scales lx, lw, lc of one CodedPrivateML run, the polynomial they quantise, and its modulus.

    ``coefficients`` are the real c_0..c_r of eq. (13); ``lc=None`` picks :func:`auto_lc`.
    ``primes`` (several primes, CRT): the protocol runs once over each prime and the master
    recovers every decoded integer modulo their product M (:mod:`pyprivml.crt`), so the
    wrap-around budget is (M-1)/2 instead of (p-1)/2; ``field`` must then be the largest of them,
    the field the master quantises the data and the weights in (they must fit it; the workers get
    their residues modulo every prime). None: the single prime ``field.p``.
    """

    field: PrimeField
    lx: int
    lw: int
    coefficients: tuple
    lc: int | None = None
    primes: tuple | None = None

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
        primes = (self.field.p,) if self.primes is None else check_primes(self.primes)
        if primes[0] != self.field.p:
            raise ValueError(f"a multi-prime plan quantises in its largest prime: field must be "
                             f"PrimeField({primes[0]}) for primes {primes}, got {self.field!r}")
        object.__setattr__(self, "primes", primes)

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

    @property
    def fields(self) -> tuple:
        """The prime fields the protocol runs over, the largest (``field``) first."""
        return tuple(PrimeField(q) for q in self.primes)

    @property
    def modulus(self) -> int:
        """M, the product of the primes: decoded integers are known modulo M."""
        return math.prod(self.primes)

    @property
    def half(self) -> int:
        """(M-1)/2: the largest decoded magnitude phi^-1 (eq. 24, or its CRT form) recovers."""
        return (self.modulus - 1) // 2

    def crt(self) -> CRT:
        """The reconstruction of a decoded integer from its residues modulo every prime."""
        return CRT(self.primes)

    def signed_coefficients(self) -> np.ndarray:
        """c̄_i = Round(c_i 2^(lc + (r-i) a)) as signed integers (eq. 3 rounding): int64 when they fit,
        Python ints (an object array) when they do not (large scales, several primes)."""
        r = self.r
        # c_i 2^k is exact in float64 and round_half_up of it an integer-valued float: int() is exact
        ints = [int(round_half_up(c * 2.0 ** (self.lc + (r - i) * self.a))) for i, c in enumerate(self.coefficients)]
        if max(abs(c) for c in ints) < 2**63:
            return np.array(ints, dtype=np.int64)
        return np.array(ints, dtype=object)

    def field_coefficients(self, field: PrimeField | None = None) -> np.ndarray:
        """c̄_i embedded in ``field`` (default: ``self.field``, any of the plan's primes) with phi (eq. 5),
        i.e. reduced modulo its prime; raises if one would wrap around mod p (mod M for several primes)."""
        field = self.field if field is None else field
        if field.p not in self.primes:
            raise ValueError(f"field_coefficients: {field!r} is not one of the plan's primes {self.primes}")
        c = self.signed_coefficients()
        biggest = int(max(abs(int(v)) for v in c))
        if biggest > self.half:
            if len(self.primes) == 1:
                raise ValueError(
                    f"the quantised sigmoid coefficients c̄_i = Round(c_i 2^(lc + (r-i)(lx+lw))) reach {biggest}, "
                    f"above (p-1)/2 = {self.field.half} for p = {self.field.p} (lx = {self.lx}, lw = {self.lw}, "
                    f"lc = {self.lc}, r = {self.r}): use p >= {next_prime(2 * biggest)}"
                    + (f", primes='auto' ({primes_needed(biggest)} primes below 2**32)"
                       if 2 * biggest + 1 >= MAX_PRIME and primes_needed(biggest) else "")
                    + " or smaller lx, lw or lc")
            raise ValueError(
                f"the quantised sigmoid coefficients reach {biggest}, above (M-1)/2 = {self.half} for the "
                f"primes {self.primes} (lx = {self.lx}, lw = {self.lw}, lc = {self.lc}, r = {self.r}): use "
                f"more primes or smaller lx, lw or lc")
        if len(self.primes) == 1:
            return field.embed(c.astype(np.int64))
        return CRT((field.p,)).residues(c)[0]

    def effective_coefficients(self) -> np.ndarray:
        """The real polynomial the protocol really evaluates: c̄_i / 2^(lc + (r-i) a)."""
        r = self.r
        return np.array([int(c) / 2.0 ** (self.lc + (r - i) * self.a)
                         for i, c in enumerate(self.signed_coefficients())])


#: The most primes a run may use: M < 2**256 keeps every float64 bound far from overflow.
MAX_PRIMES = 8


def primes_needed(bound) -> int | None:
    """The fewest primes below 2**32 whose product M has (M-1)/2 >= bound (None: more than MAX_PRIMES)."""
    for k in range(1, MAX_PRIMES + 1):
        if (math.prod(largest_primes(k)) - 1) // 2 >= bound:
            return k
    return None


def check_primes(primes) -> tuple:
    """Validate the primes of a multi-prime (CRT) run; return them distinct and largest first.

    Each must be a prime the field kernels accept (2 < p < 2**32; :class:`~pyprivml.PrimeField`
    names the nearest valid ones), none may repeat (distinct primes are pairwise coprime, which
    the CRT needs), and there are at most :data:`MAX_PRIMES`."""
    if isinstance(primes, (str, bytes)) or not hasattr(primes, "__iter__"):
        raise TypeError(f"primes must be a sequence of primes, got {type(primes).__name__} {primes!r}")
    primes = tuple(primes)
    example = ", ".join(str(q) for q in largest_primes(2))
    if not 1 <= len(primes) <= MAX_PRIMES:
        raise ValueError(f"primes: between 1 and {MAX_PRIMES} primes, got {len(primes)}; e.g. primes=({example})")
    for q in primes:
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)):
            raise TypeError(f"primes: every prime must be an integer, got {type(q).__name__} {q!r}")
        try:
            PrimeField(int(q))
        except ValueError as exc:
            raise ValueError(f"primes: {exc}") from None
    primes = tuple(int(q) for q in primes)
    repeated = next((q for q in primes if primes.count(q) > 1), None)
    if repeated is not None:
        raise ValueError(f"primes must be distinct (the CRT needs pairwise coprime moduli): {repeated} appears "
                         f"more than once in {primes}; e.g. primes=({example})")
    return tuple(sorted(primes, reverse=True))


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
        half = plan.half

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
        if b <= self.plan.half:
            return b
        raise WrapAroundError(self._explain(w, b, when))

    def max_safe_weight(self) -> float:
        """The largest t such that weights with every |w_k| <= t are proven safe (0 if none)."""
        d = self.X.shape[1]
        if self.bound(np.zeros(d)) > self.plan.half:
            return 0.0
        lo, hi = 0.0, 1.0
        while self.bound(np.full(d, hi)) <= self.plan.half and hi < 2.0 ** 40:
            lo, hi = hi, hi * 2
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.bound(np.full(d, mid)) <= self.plan.half else (lo, mid)
        return lo

    def _explain(self, w, b, when) -> str:
        plan, F = self.plan, self.plan.field
        hints = []
        if 2.0 ** plan.exponent > plan.half:
            # Even |x| = |w| = 1 would wrap: the scales of eq. (23) alone exceed the modulus, whatever the data.
            hints.append(f"a lower degree r or smaller scales (l = lx + lc + r(lx + lw) = {plan.exponent} "
                         f"bits with r = {plan.r}, but {_budget(plan)} < 2^{plan.half.bit_length()})")
        # Suggestions must hold for every weight of the run: for the run's ball when it is known.
        run_w = np.asarray(w, dtype=np.float64)

        def bound(trial, moments=None):
            b_w = self.bound(run_w, plan=trial, moments=moments)
            if self.radius is None:
                return b_w
            return max(b_w, self.ball_bound(self.radius, plan=trial, moments=moments))

        for lw in range(plan.lw - 1, -1, -1):
            trial = FixedPointPlan(F, plan.lx, lw, plan.coefficients, plan.lc, plan.primes)
            if bound(trial) <= plan.half:
                hints.append(f"lw <= {lw} (with lx = {plan.lx})")
                break
        for lx in range(plan.lx - 1, -1, -1):
            trial = FixedPointPlan(F, lx, plan.lw, plan.coefficients, plan.lc, plan.primes)
            if bound(trial, self._moments(lx)) <= plan.half:
                hints.append(f"lx <= {lx} (with lw = {plan.lw})")
                break
        b = max(b, bound(plan))
        hints.extend(_modulus_hints(b))
        return (f"{when + ': ' if when else ''}decoded gradient entries could reach {b:.4g} in magnitude, "
                f"beyond {_budget(plan, values=True)} (lx = {plan.lx}, lw = {plan.lw}, "
                f"lc = {plan.lc}, max |w| = {float(np.max(np.abs(w), initial=0.0)):.4g}), so phi^-1 "
                f"(eq. 24) could return a wrapped-around value. Safe choices: " + "; ".join(hints))


def _budget(plan: FixedPointPlan, values: bool = False) -> str:
    """"(p-1)/2" for one prime, "(M-1)/2" for several; with ``values`` the number and the prime(s)."""
    if len(plan.primes) == 1:
        return f"(p-1)/2 = {plan.half} for p = {plan.field.p}" if values else "(p-1)/2"
    if not values:
        return "(M-1)/2"
    return f"(M-1)/2 = {plan.half:.4g} for the {len(plan.primes)} primes {plan.primes} (M their product)"


def _modulus_hints(b: float) -> list:
    """What modulus would cover a bound b: a larger prime, or (beyond one 32-bit prime) several."""
    hints = []
    if not math.isfinite(b):
        return hints
    if 2 * math.ceil(b) + 1 < MAX_PRIME:
        hints.append(f"p >= {next_prime(2 * math.ceil(b))}")
    k = primes_needed(b)
    if k is None:
        hints.append(f"no prime below 2**32 is large enough, nor {MAX_PRIMES} of them together: scale the data "
                     f"down or lower lx, lw")
    elif k > 1:
        hints.append(f"primes='auto' ({k} primes below 2**32, e.g. primes={largest_primes(k)}, decoded by the "
                     f"Chinese remainder theorem)")
    return hints


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
        return {"lx": p.lx, "lw": p.lw, "lc": p.lc, "p": p.field.p, "primes": list(p.primes), "w_bound": self.radius,
                "bound": self.bound, "half": p.half, "automatic": list(self.automatic), "reasons": dict(self.reasons),
                "warnings": list(self.warnings)}

    def describe(self) -> str:
        p = self.plan
        modulus = f"p = {p.field.p}" if len(p.primes) == 1 else f"primes = {p.primes}"
        head = (f"lx = {p.lx}, lw = {p.lw}, lc = {p.lc}, {modulus}, ||w||_2 <= {self.radius:.4g}: "
                f"decoded entries |G| <= {self.bound:.4g} <= {_budget(p)} = {p.half} for every iteration")
        return head + "".join(f"; {k}: {v}" for k, v in self.reasons.items())


class _Search:
    """The wrap-around bound of a ball for trial scales under the modulus of ``primes`` (largest
    first: the data and weights must fit the first, every decoded value their product), the
    data's moments cached per lx."""

    def __init__(self, X, coefficients, primes):
        self.X = np.asarray(X, dtype=np.float64)
        self.coefficients = tuple(float(c) for c in coefficients)
        self.xmax = float(np.max(np.abs(self.X), initial=0.0))
        self._moments: dict = {}
        self._guard = None
        self._set(primes)

    def _set(self, primes):
        self.primes = tuple(int(q) for q in primes)
        self.field = PrimeField(self.primes[0])
        self.half = (math.prod(self.primes) - 1) // 2

    def with_primes(self, primes) -> "_Search":
        """The same search (and moments) under other primes with the same largest one."""
        other = object.__new__(_Search)
        other.__dict__.update(self.__dict__)
        other._set(primes)
        assert other.primes[0] == self.primes[0]
        return other

    def plan(self, lx, lw, lc, primes=None):
        primes = self.primes if primes is None else tuple(primes)
        return FixedPointPlan(PrimeField(primes[0]), int(lx), int(lw), self.coefficients, lc,
                              primes if len(primes) > 1 else None)

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
        coeffs = float(max(abs(int(c)) for c in plan.signed_coefficients()))
        # The data and weights are quantised in the largest prime (more primes do not help them);
        # coefficients are reduced exactly modulo each prime, so they only count against (M-1)/2.
        if max(data, weights) > self.field.half:
            return math.inf
        self.moments(lx)
        G = self._guard.ball_bound(radius, plan=plan, moments=self._moments[lx])
        return max(G, data, weights, coeffs)

    def fits(self, lx, lw, lc, radius) -> bool:
        return lx <= 30 and lw <= 30 and (lc is None or lc <= 30) and \
            self.need(lx, lw, lc, radius) <= self.half


def _no_plan(search: _Search, lx, lw, lc, radius, what: str) -> WrapAroundError:
    """The error when no plan covers the ball: the bound, and choices that would cover the whole run."""
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
    if math.isfinite(b):
        hints.extend(_modulus_hints(b))
    else:
        hints.append(f"scale the data down or lower lx, lw (2^lx max|x| and 2^lw w_bound must fit the largest "
                     f"prime, {search.field.p}, whatever the number of primes)")
    R_max = search._guard.max_safe_radius(plan=plan, moments=search._moments.get(lx)) \
        if search._guard is not None and lx in search._moments else 0.0
    if R_max > 0:
        hints.append(f"w_bound <= {R_max:.4g} (keep the weights in a smaller ball)")
    if len(search.primes) == 1 and 2.0 ** plan.exponent > MAX_PRIME // 2:
        # Even |x| = |w| = 1 would wrap: the scales of eq. (23) alone exceed every prime the kernels take.
        hints.insert(0, f"a lower degree r or smaller scales (l = lx + lc + r(lx + lw) = {plan.exponent} bits "
                        f"with r = {plan.r}, but (p-1)/2 < 2^{(MAX_PRIME // 2).bit_length()} for every p < 2**32)")
    elif 2.0 ** plan.exponent > search.half:
        hints.insert(0, f"a lower degree r, smaller scales or more primes (l = lx + lc + r(lx + lw) = "
                        f"{plan.exponent} bits, but (M-1)/2 < 2^{search.half.bit_length()} for these primes)")
    shown = f"{b:.4g}" if math.isfinite(b) else "beyond the field"
    return WrapAroundError(
        f"before training: decoded gradient entries could reach {shown} in magnitude for weights with "
        f"||w||_2 <= {radius:.4g} ({what}), beyond {_budget(plan, values=True)} (lx = {lx}, lw = {lw}, "
        f"lc = {plan.lc}), so phi^-1 (eq. 24) could return a wrapped-around value. Safe choices for the "
        f"whole run: " + "; ".join(hints))


def choose_plan(X, coefficients, *, lx=None, lw=None, lc=None, p=None, primes=None, radius=None, reach=None,
                reach_reason: str = "") -> PlanChoice:
    """The fixed-point plan of a run, proven before the first iteration for every iteration.

    Parameters given (not None) are kept; the others are chosen:

    * ``radius`` (``w_bound``): the ball ||w||_2 <= radius the master keeps the weights in. When
      lx, lw and the modulus (p, or the primes) are all given it defaults to the largest radius
      their proof admits (weights that would leave it are projected back, never refused midway);
      otherwise to ``reach`` (:func:`weight_reach`: from the learning rate, the iteration budget
      and the data).
    * ``lx``, ``lw``: the largest the wrap-around proof admits for that ball with the modulus (the
      given prime or primes; else the largest the kernels accept, 2**32 - 5, or the product of the
      k largest primes below 2**32 when ``primes`` is a count k). Grown one bit at a time
      from zero, lw first (a bit of lw costs one bit of the bound, a bit of lx two),
      until neither can grow, so that one more bit of either would break the proof; from the
      floors :data:`MIN_DATA_BITS`, :data:`MIN_WEIGHT_BITS` if that leaves one below them.
    * ``lc``: :func:`auto_lc` (the fewest bits within 10 %), then as many more as the proof admits.
    * ``p``: the smallest prime above twice the final bound (at least 2**16), so one more bit
      of lx or lw would need a prime the kernels do not accept.
    * ``primes`` (several primes, decoded by the Chinese remainder theorem; give p or primes,
      not both): a tuple fixes them; a count k (1 <= k <= :data:`MAX_PRIMES`) or ``"auto"``
      (the fewest k for which the given scales, or the floors of the chosen ones, are proven)
      chooses them: the k - 1 largest primes below 2**32 and the smallest last prime (at
      least 2**16) that completes the proof, so that for k = 1 it is the rule for p.

    Raises :class:`WrapAroundError` (saying what would cover the whole run) when nothing does.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).uniform(0, 1, (200, 5))
    >>> choice = choose_plan(X, (0.5, 0.1312), radius=10.0)
    >>> choice.plan.lx, choice.plan.lw, choice.radius, choice.bound <= choice.plan.field.half
    (6, 8, 10.0, True)
    >>> deep = choose_plan(X, (0.5, 0.2, 0.0, -0.004), lx=8, lw=8, primes="auto", radius=10.0)
    >>> len(deep.plan.primes), deep.plan.primes[:2], deep.bound <= deep.plan.half
    (3, (4294967291, 4294967279), True)
    """
    X = np.asarray(X, dtype=np.float64)
    coefficients = tuple(float(c) for c in coefficients)
    count, given_primes = _primes_argument(p, primes)
    given = {"lx": lx, "lw": lw, "lc": lc, "p": p if given_primes is None else given_primes[0], "w_bound": radius}
    automatic = tuple(k for k, v in given.items() if v is None) + (("primes",) if count is not None else ())
    if given_primes is not None:
        ceiling = given_primes
    elif p is not None:
        ceiling = (int(p),)
    else:
        ceiling = largest_primes(count if isinstance(count, int) else 1)
    search = _Search(X, coefficients, ceiling)
    modulus_text = f"p = {p}" if given_primes is None else f"primes = {given_primes}"
    reasons, warnings = {}, []
    fixed = lx is not None and lw is not None and (p is not None or given_primes is not None)
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
        what = "p" if given_primes is None else "primes"
        reasons["w_bound"] = (f"{R:.4g}, the largest radius the proof admits for the given lx, lw and {what} "
                              f"(weights are projected onto this ball if they reach it)")
        if R < reach:
            hint = _no_plan(search, lx, lw, lc_, reach, "")
            warnings.append(f"the given lx = {lx}, lw = {lw}, {modulus_text} prove only ||w||_2 <= {R:.4g}, below "
                            f"the reach of this run, {reach:.4g} ({reach_reason}); if the weights get there they are "
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
        if count == "auto":
            # The fewest primes under which the given scales (or the floors of the chosen ones) are proven.
            for k in range(1, MAX_PRIMES + 1):
                search = search.with_primes(largest_primes(k))
                if search.fits(x_floor, w_floor, lc, R):
                    break
            count = k
            reasons["primes"] = (f"{k}: the fewest primes below 2**32 whose product proves lx = {x_floor}, "
                                 f"lw = {w_floor} ({'given' if lx is not None and lw is not None else 'the floors'})"
                                 f" for ||w||_2 <= {R:.4g}")

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
    if given_primes is not None:
        final = given_primes
    elif p is not None:
        final = (int(p),)
    elif count is None or count == 1:
        final = (next_prime(max(2 * math.ceil(b), _MIN_AUTO_PRIME)),)
        reasons["p"] = (f"{final[0]}, the smallest prime above twice the proven bound {b:.4g} "
                        f"(the kernels accept primes up to 2**32 - 5)")
    else:
        final = _last_prime(largest_primes(count - 1), b)
        reasons.setdefault("primes", f"{count} (given)")
        reasons["primes"] += (f"; {final}: the {count - 1} largest primes below 2**32 and {final[-1]}, the "
                              f"smallest prime (at least 2**16) that makes the product M > 2 x {b:.4g}, the "
                              f"proven bound")
    plan = search.plan(lx_, lw_, lc_, final)
    if lx is None or lw is None:
        more = []
        for name, trial in (("lx", (lx_ + 1, lw_)), ("lw", (lx_, lw_ + 1))):
            if given[name] is None:
                nb = search.need(trial[0], trial[1], lc_, R)
                more.append(f"{name} + 1 would need {nb:.4g}" if math.isfinite(nb) else f"{name} + 1 would not embed")
        if len(search.primes) == 1:
            ceiling = f"(p-1)/2 = {search.field.half} of p = {search.field.p}"
        else:
            ceiling = f"(M-1)/2 = {search.half:.4g} of the {len(search.primes)} primes {search.primes}"
        for name in ("lx", "lw"):
            if given[name] is None:
                reasons[name] = (f"{getattr(plan, name)}, the largest the proof admits for ||w||_2 <= {R:.4g} "
                                 f"under {ceiling} ({'; '.join(more)})")
    if lc is None:
        reasons["lc"] = (f"{plan.lc}: at least the {auto_lc(coefficients, plan.a)} bits that keep every "
                         f"coefficient within 10 %, and as many more as the proof admits")
    return PlanChoice(plan, float(R), float(b), automatic, reasons, tuple(warnings))


def primes_argument(primes):
    """(count, given primes) of a ``primes=`` argument: count is None, a k or "auto", given None or
    the checked tuple (:func:`check_primes`); None for one prime."""
    if primes is None:
        return None, None
    if isinstance(primes, str):
        if primes != "auto":
            raise ValueError(f"primes must be 'auto', a count k in 1..{MAX_PRIMES} or a tuple of distinct primes "
                             f"below 2**32, got {primes!r}")
        return "auto", None
    if isinstance(primes, (int, np.integer)) and not isinstance(primes, bool):
        if not 1 <= primes <= MAX_PRIMES:
            raise ValueError(f"primes = {primes}: a count of primes must be in 1..{MAX_PRIMES} (or 'auto', or a "
                             f"tuple of distinct primes below 2**32)")
        return int(primes), None
    return None, check_primes(primes)


def _primes_argument(p, primes):
    """:func:`primes_argument`, refusing p beside it."""
    if primes is not None and p is not None:
        raise ValueError(f"give p (one prime) or primes (several), not both: got p = {p!r} and primes = {primes!r}")
    return primes_argument(primes)


def _last_prime(first: tuple, b: float) -> tuple:
    """``first`` and the smallest prime q >= 2**16, not among them, with (prod(first) q - 1)/2 >= b."""
    P = math.prod(first)
    lower = max(_MIN_AUTO_PRIME, -(-(2 * math.ceil(b) + 1) // P))
    q = next_prime(lower - 1)
    while q in first:
        q = next_prime(q)
    return tuple(first) + (q,)
