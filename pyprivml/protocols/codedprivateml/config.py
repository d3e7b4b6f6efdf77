"""CodedPrivateML's parameters: N, K, T, the recovery threshold, stragglers (seed 004 sec. IV-V)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ...field import DEFAULT_PRIME
from ..config import check_choice
from ..fixedpoint import FixedPointPlan, PlanChoice, primes_argument
from ..regression import RegressionConfig

__all__ = ["CodedPrivateMLConfig", "choose_K_T", "recovery_threshold", "FAULT_MODES"]


def recovery_threshold(K: int, T: int, degree: int = 1) -> int:
    """(2r+1)(K+T-1)+1: the results the master needs each iteration to decode (Theorem 1, eq. 21)."""
    return (2 * degree + 1) * (K + T - 1) + 1


def choose_K_T(N: int, degree: int = 1, case: int = 2, K: int | None = None, T: int | None = None):
    """K (parallelisation) and T (privacy threshold) for N workers and sigmoid degree r (seed 004 sec. V).

    Given explicitly they are only checked against N >= (2r+1)(K+T-1)+1 (Theorem 1). Otherwise,
    with D = 2r+1 (the seed states the cases for r = 1, D = 3; we keep their form for any r):

    * Case 1, maximum parallelisation: T = 1, K = floor((N-1)/D);
    * Case 2, equal parallelisation and privacy: T = floor((N-D)/(2D)), K = floor((N-1)/D) + 1 - T
      (for r = 1: T = floor((N-3)/6), K = floor((N+2)/3) - T).

    >>> choose_K_T(12, case=1), choose_K_T(12, case=2)
    ((3, 1), (3, 1))
    """
    if not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"the number of workers N must be a positive integer, got {N!r}")
    D = 2 * degree + 1
    if K is None and T is None:
        if case == 1:
            K, T = (N - 1) // D, 1
        elif case == 2:
            T = (N - D) // (2 * D)
            K = (N - 1) // D + 1 - T
        else:
            raise ValueError(f"case must be 1 (maximum parallelisation) or 2 (equal split), got {case!r}")
        if K < 1 or T < 1:
            smallest = D + 1 if case == 1 else 3 * D
            raise ValueError(f"case {case} with degree r = {degree} needs N >= {smallest} workers "
                             f"(got N = {N}, giving K = {K}, T = {T}); use more workers"
                             + (" or case 1" if case == 2 else ""))
    elif K is None or T is None:
        raise ValueError("give both K and T, or neither (then case 1 or 2 derives them from N)")
    K, T = int(K), int(T)
    if K < 1 or T < 1:
        raise ValueError(f"need K >= 1 and T >= 1 (T = 0 would give no privacy), got K = {K}, T = {T}")
    need = recovery_threshold(K, T, degree)
    if N < need:
        raise ValueError(f"N = {N} workers cannot decode: K = {K}, T = {T}, r = {degree} need "
                         f"N >= (2r+1)(K+T-1)+1 = {need} (Theorem 1)")
    return K, T


#: How an injected Byzantine worker corrupts its result f: uniform values, f + c, c·f, or
#: f + g(α_i) for one low-degree g shared by every "poly" worker (a coordinated shift).
FAULT_MODES = ("random", "offset", "scale", "poly")


def parse_fault(mode) -> tuple[str, int]:
    """An injected fault ``"MODE"`` or ``"MODE@ITERATION"`` -> (MODE, the first iteration it lies in):
    a worker honest at first and wrong from then on (a fault that appears after the budget of A is
    spent must still be detected).

    >>> parse_fault("offset"), parse_fault("scale@3")
    (('offset', 0), ('scale', 3))
    """
    kind, sep, start = str(mode).partition("@")
    if kind not in FAULT_MODES or (sep and not start.isdigit()):
        raise ValueError(f"a fault's mode must be one of {', '.join(FAULT_MODES)}, optionally followed by "
                         f"@ITERATION (the first iteration it lies in, e.g. offset@3), got {mode!r}")
    return kind, int(start) if sep else 0


@dataclass(frozen=True, kw_only=True)
class CodedPrivateMLConfig(RegressionConfig):
    """Every parameter of one CodedPrivateML run (public: all ranks may hold it).

    K and T come from ``case`` (1: maximum parallelisation, 2: equal split) unless both are given.
    ``straggle`` maps a worker's rank (1..N) to seconds it waits before answering each iteration;
    ``math.inf`` makes it a dead worker that never answers. ``timeout`` is how long the master
    waits for a recovery threshold of results before naming the missing workers.

    The defaults are the seed's Algorithm 1 as written (gradient descent, l_x = 3, l_w = 4,
    p = 2^25 - 39), which the MPC baselines share step for step. The master chooses what is left
    None before the first iteration (:meth:`resolve`): ``lx``, ``lw``, ``lc``, ``p`` (the largest
    scales the wrap-around proof admits, a prime up to 2^32 - 5) and ``w_bound``; the workers
    learn p and the coefficients from it. ``optimizer`` ("gd", "heavy-ball", "nesterov"),
    ``momentum`` and ``tol`` (stop once ||g||_2 <= tol) are the master's update rule; the
    estimators and ``pyprivml train codedprivateml`` default to Nesterov with an automatic plan.

    ``primes`` runs the protocol over several primes and decodes by the Chinese remainder theorem
    (docs/codedprivateml.md, "Several primes"): a tuple of distinct primes below 2^32, a count k,
    or ``"auto"``, the fewest primes the wrap-around proof needs for the given (or the automatic
    plan's smallest) l_x, l_w. With ``primes`` the field ``p`` is the largest of them (the one the
    master quantises in): leave it at its default or None. A one-prime tuple is the same as ``p``.

    >>> cfg = CodedPrivateMLConfig(n_workers=12, case=2)
    >>> cfg.K_T(), cfg.recovery_threshold()
    ((3, 1), 10)
    >>> two = CodedPrivateMLConfig(n_workers=12, lx=2, lw=6, primes=(4294967279, 4294967291))
    >>> two.p, two.primes, two.plan().half > 2**62
    (4294967291, (4294967291, 4294967279), True)
    """

    automatic_plan: ClassVar[bool] = True
    early_stop: ClassVar[bool] = True

    K: int | None = None
    T: int | None = None
    case: int = 2
    straggle: dict = field(default_factory=dict)
    #: A: wrong results corrected per iteration (Reed–Solomon, Berlekamp–Welch); needs N >= threshold + 2A
    byzantine: int = 0
    #: fault injection for tests and demos: rank -> "random" | "offset" | "scale" | "poly", each
    #: optionally "@ITERATION", the first iteration the worker lies in (:func:`parse_fault`)
    faults: dict = field(default_factory=dict)
    #: several primes (CRT): a tuple of distinct primes, a count k, or "auto"; None: the one prime p
    primes: tuple | int | str | None = None

    def __post_init__(self):
        object.__setattr__(self, "primes", self._normalise_primes())
        super().__post_init__()

    def _normalise_primes(self):
        """Check ``primes`` against ``p`` and bring both to one form: a tuple (largest first, p its first
        element), a count or "auto" (p None), or None (one prime, p)."""
        primes, p = self.primes, self.p
        if primes is None:
            return None
        explicit_p = p is not None and p != DEFAULT_PRIME
        count, given = primes_argument(primes)
        if given is None:                        # a count or "auto": the plan picks the primes
            if explicit_p:
                raise ValueError(f"give p (one prime) or primes (several), not both: p = {p} with "
                                 f"primes = {primes!r}")
            object.__setattr__(self, "p", None)
            return None if count == 1 else count
        primes = given
        if explicit_p and p != primes[0]:
            raise ValueError(f"give p (one prime) or primes (several), not both: p = {p} with primes = {primes} "
                             f"(p, when given, must be the largest of the primes, {primes[0]})")
        object.__setattr__(self, "p", primes[0])
        return primes if len(primes) > 1 else None

    def validate(self) -> None:
        super().validate()
        check_choice("case", self.case, (1, 2))
        if isinstance(self.byzantine, bool) or not isinstance(self.byzantine, (int, np.integer)) or self.byzantine < 0:
            raise ValueError(f"byzantine (A, the wrong results corrected) must be an integer >= 0, got {self.byzantine!r}")
        for rank, mode in self.faults.items():
            if not 1 <= int(rank) <= self.n_workers:
                raise ValueError(f"faults: rank {rank} is not a worker (workers are ranks 1..{self.n_workers})")
            try:
                parse_fault(mode)
            except ValueError as exc:
                raise ValueError(f"faults: worker {rank}: {exc}") from None
        for rank, delay in self.straggle.items():
            if not 1 <= int(rank) <= self.n_workers:
                raise ValueError(f"straggle: rank {rank} is not a worker (workers are ranks 1..{self.n_workers})")
            if isinstance(delay, bool) or not isinstance(delay, (int, float, np.number)) or not delay >= 0:
                raise ValueError(f"straggle: worker {rank!r} must wait a non-negative number of seconds "
                                 f"(math.inf for a dead worker), got {delay!r}")
        self.K_T()  # validates N, K, T and the degree
        if isinstance(self.primes, tuple):
            K, T = self.K_T()
            small = [q for q in self.primes if q <= self.n_workers + K + T]
            if small:
                raise ValueError(f"primes: {small[0]} is too small for N + K + T = {self.n_workers + K + T} distinct "
                                 f"evaluation points (seed 004 sec. III-B); every prime must exceed it")
        if self.byzantine:
            need = self.recovery_threshold() + 2 * self.byzantine
            if self.n_workers < need:
                raise ValueError(f"correcting A = {self.byzantine} wrong results needs N >= (2r+1)(K+T-1)+1+2A = "
                                 f"{need} workers, got N = {self.n_workers}; the largest A for N = {self.n_workers} "
                                 f"is {max((self.n_workers - self.recovery_threshold()) // 2, 0)}")

    def K_T(self) -> tuple[int, int]:
        """(K, T): the parallelisation and the privacy threshold."""
        return choose_K_T(self.n_workers, self.degree, self.case, self.K, self.T)

    def recovery_threshold(self) -> int:
        """(2r+1)(K+T-1)+1: results the master needs each iteration (eq. 21)."""
        K, T = self.K_T()
        return recovery_threshold(K, T, self.degree)

    # -- several primes: the plan and its resolution ------------------------------------------------

    def plan(self) -> FixedPointPlan:
        """The fixed-point plan; with several primes its modulus is their product (CRT)."""
        if not isinstance(self.primes, tuple):
            return super().plan()
        self._need_resolved("plan")
        return FixedPointPlan(self.field, self.lx, self.lw, self.coefficients(), self.lc, self.primes)

    def _modulus_options(self) -> dict:
        """With ``primes`` the plan may choose how many primes (and which) the wrap-around proof needs."""
        return super()._modulus_options() if self.primes is None else {"primes": self.primes}

    def _resolved_fields(self, choice: PlanChoice) -> dict:
        fields = super()._resolved_fields(choice)
        return fields if self.primes is None else {**fields, "primes": choice.plan.primes}

    def public_parameters(self) -> dict:
        K, T = self.K_T()
        return {**self.task_parameters(), "K": K, "T": T, "case": self.case, "primes": list(self.plan().primes),
                "recovery_threshold": self.recovery_threshold(), "privacy_threshold": T,
                "straggle": {int(k): float(v) for k, v in self.straggle.items()}, "byzantine": self.byzantine}
