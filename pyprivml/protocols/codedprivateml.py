"""CodedPrivateML (seed 004, Algorithm 1): a master and N workers train logistic or linear regression
on Lagrange-coded, quantised data, information-theoretically private against T colluding workers.

Master (rank 0), once:
  1. quantise the dataset, X̄ = phi(Round(2^lx X)) (eq. 4);
  2. split X̄ into K row blocks and Lagrange-encode them with T random masks (eqs. 9-10);
  3. send X̃_i to worker i (rank i + 1).
Every iteration t:
  6. draw r independent stochastic quantisations of w, W̄ = [w̄^1 ... w̄^r] (eqs. 6-8);
  7. Lagrange-encode W̄ with fresh masks, W̃_i = v(alpha_i) (eqs. 11-12), send W̃_i to worker i;
  Worker i: f(X̃_i, W̃_i) = X̃_i^T s̄(X̃_i, W̃_i) (eqs. 15, 18), sent back;
  13. decode the K blocks f(X̄_k, W̄) from the FIRST (2r+1)(K+T-1)+1 results to arrive (eq. 21);
  14. sum them (eq. 22) and map to the reals with phi^-1 / 2^l (eqs. 23-24);
  15. w <- w - (eta/m) (X̄^T s̄ - X̄^T y) (eq. 17); X̄^T y is the master's, computed once.

The scales lx, lw, lc and the final exponent l, and the proof that no decoded value wraps around
mod p (checked before training and, in O(d), every iteration), are in
:mod:`pyprivml.protocols.fixedpoint`; the polynomial s_hat of eq. (13) in
:mod:`pyprivml.protocols.sigmoid`. Linear regression (Remark 1) is the same protocol with
s_hat(z) = z, which is exact.

Roles talk to a :class:`~pyprivml.comm.Transport` only, so one code runs under ``mpiexec`` and
in-process. :func:`run_codedprivateml` launches both roles and returns the master's
:class:`CodedPrivateMLResult`.

>>> from pyprivml.data import load_digits49
>>> ds = load_digits49()
>>> cfg = CodedPrivateMLConfig(n_workers=6, case=1, max_iter=5, seed=1)
>>> cfg.K_T(), cfg.threshold()
((1, 1), 4)
>>> res = run_codedprivateml(ds.X_train, ds.y_train, cfg, transport="inprocess")
>>> len(res.history), res.history[-1]["loss"] < res.history[0]["loss"]
(6, True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..comm import ANY_TAG, Transport, TransportTimeout, launch
from ..field import DEFAULT_PRIME, PrimeField
from ..lagrange import LagrangeCode
from ..linalg import modcombine, modmatmul, modmatvec
from ..quantization import dequantize, quantize, quantize_stochastic
from .fixedpoint import FixedPointPlan, WrapAroundGuard, s_bar
from .sigmoid import DEFAULT_INTERVAL, fit_sigmoid, log_loss, sigmoid

__all__ = ["CodedPrivateMLConfig", "CodedPrivateMLResult", "choose_K_T", "run_codedprivateml",
           "master_role", "worker_role", "worker_compute", "lipschitz_lr", "plaintext_gradient_field", "PHASES"]

TAG_SETUP, TAG_DATA, TAG_WEIGHTS, TAG_CONTROL, TAG_SUMMARY = 1, 2, 3, 4, 5
_RESULT_TAG0, _RESULT_TAGS = 1000, 16384
#: The columns of seed 004 Table II, in the order reports print them.
PHASES = ("encoding", "communication", "computation", "decoding", "update")


def _result_tag(t: int) -> int:
    return _RESULT_TAG0 + t % _RESULT_TAGS


def choose_K_T(N: int, degree: int = 1, case: int = 2, K: int | None = None, T: int | None = None):
    """K (parallelisation) and T (privacy) for N workers and sigmoid degree r (seed 004 sec. V).

    Given explicitly they are only checked against N >= (2r+1)(K+T-1)+1 (Theorem 1). Otherwise,
    with D = 2r+1 (the seed states the cases for r = 1, D = 3; we keep their form for any r):

    * Case 1, maximum parallelisation: T = 1, K = floor((N-1)/D);
    * Case 2, equal parallelisation and privacy: T = floor((N-D)/(2D)), K = floor((N-1)/D) + 1 - T
      (for r = 1: T = floor((N-3)/6), K = floor((N+2)/3) - T).
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
    need = D * (K + T - 1) + 1
    if N < need:
        raise ValueError(f"N = {N} workers cannot decode: K = {K}, T = {T}, r = {degree} need "
                         f"N >= (2r+1)(K+T-1)+1 = {need} (Theorem 1)")
    return K, T


@dataclass
class CodedPrivateMLConfig:
    """Every parameter of one CodedPrivateML run (public: all ranks may hold it).

    ``straggle`` maps a worker's rank (1..N) to seconds it waits before answering each iteration;
    ``math.inf`` makes it a dead worker that never answers. ``seed`` makes the stochastic
    quantisation of w reproducible (masks always come from the OS CSPRNG). ``timeout`` is how long
    the master waits for a recovery threshold of results before naming the missing workers.
    """

    n_workers: int
    K: int | None = None
    T: int | None = None
    case: int = 2
    degree: int = 1
    task: str = "logistic"
    lx: int = 3
    lw: int = 4
    lc: int | None = None
    p: int = DEFAULT_PRIME
    max_iter: int = 50
    lr: float | None = None
    fit_interval: tuple = DEFAULT_INTERVAL
    seed: int | None = None
    timeout: float = 120.0
    straggle: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in ("logistic", "linear"):
            raise ValueError(f"task must be 'logistic' or 'linear', got {self.task!r}")
        if self.task == "linear" and self.degree != 1:
            raise ValueError("linear regression (Remark 1) uses s_hat(z) = z: degree must be 1")
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer, got {self.max_iter!r}")
        for rank in self.straggle:
            if not 1 <= int(rank) <= self.n_workers:
                raise ValueError(f"straggle: rank {rank} is not a worker (workers are ranks 1..{self.n_workers})")
        self.K_T()  # validates N, K, T and the degree

    def K_T(self) -> tuple[int, int]:
        return choose_K_T(self.n_workers, self.degree, self.case, self.K, self.T)

    def threshold(self) -> int:
        """(2r+1)(K+T-1)+1: results the master needs each iteration (eq. 21)."""
        K, T = self.K_T()
        return (2 * self.degree + 1) * (K + T - 1) + 1

    def coefficients(self) -> tuple:
        """Real coefficients of s_hat: the least-squares sigmoid fit, or z itself for linear regression."""
        if self.task == "linear":
            return (0.0, 1.0)
        return tuple(fit_sigmoid(self.degree, self.fit_interval))

    def plan(self) -> FixedPointPlan:
        return FixedPointPlan(PrimeField(self.p), self.lx, self.lw, self.coefficients(), self.lc)

    def public_parameters(self) -> dict:
        K, T = self.K_T()
        plan = self.plan()
        return {"N": self.n_workers, "K": K, "T": T, "r": self.degree, "case": self.case, "task": self.task,
                "lx": self.lx, "lw": self.lw, "lc": plan.lc, "l": plan.exponent, "p": self.p,
                "iterations": self.max_iter, "threshold": self.threshold(),
                "fit_interval": list(self.fit_interval), "coefficients": list(plan.coefficients),
                "quantized_coefficients": plan.signed_coefficients().tolist(),
                "straggle": {int(k): float(v) for k, v in self.straggle.items()}}


@dataclass
class CodedPrivateMLResult:
    """What the master returns: the weights, per-iteration metrics, time and traffic per phase."""

    w: np.ndarray
    parameters: dict
    history: list  # per iteration t = 0..J: loss (and accuracy / r2 when a test set is given)
    seconds: dict  # per phase of PHASES, plus "total"
    bytes: dict  # master traffic per transport phase
    used_workers: list  # per iteration: the ranks whose results were decoded, in arrival order
    weights_history: list  # w^(0), ..., w^(J)
    decoded: list = field(default_factory=list)  # per iteration, the field sum of eq. (22) if kept
    warnings: list = field(default_factory=list)


def lipschitz_lr(X, task: str = "logistic", iters: int = 100) -> float:
    """eta = 1/L (Theorem 1): L = lambda_max(X^T X) / (4m) for logistic, / m for linear regression
    (Lemma 2 with the 1/m of eq. 2), lambda_max by power iteration from a fixed start."""
    X = np.asarray(X, dtype=np.float64)
    m, d = X.shape
    v = np.ones(d) / math.sqrt(d)
    lam = 0.0
    for _ in range(iters):
        u = X.T @ (X @ v)
        lam = float(np.linalg.norm(u))
        if lam == 0:
            return 1.0
        v = u / lam
    L = lam / m / (4.0 if task == "logistic" else 1.0)
    return 1.0 / L


def _draw_seed(seed, t):
    return None if seed is None else int(seed) * 1_000_003 + t


def _metrics(task, w, X, y, X_test, y_test) -> dict:
    if task == "logistic":
        out = {"loss": log_loss(y, sigmoid(X @ w)), "train_accuracy": float(np.mean((X @ w > 0) == (y > 0.5)))}
        if X_test is not None:
            out["accuracy"] = float(np.mean((X_test @ w > 0) == (y_test > 0.5)))
    else:
        out = {"loss": float(np.mean((X @ w - y) ** 2))}
        if X_test is not None:
            resid = float(np.sum((X_test @ w - y_test) ** 2))
            total = float(np.sum((y_test - np.mean(y_test)) ** 2)) or 1.0
            out["r2"] = 1.0 - resid / total
    return out


# -- worker ---------------------------------------------------------------------------------------


def worker_compute(Xt, Wt, coefficients, field: PrimeField) -> np.ndarray:
    """f(X̃_i, W̃_i) = X̃_i^T s̄(X̃_i, W̃_i) over F_p (eqs. 15, 18): a polynomial of degree 2r+1."""
    Z = modmatmul(Xt, Wt, field, check=False)  # the r logits per row, X̃_i w̃^j
    s = s_bar(Z, coefficients, field)
    return modmatvec(Xt, s, field, transpose=True, check=False)


def worker_role(transport: Transport, config: CodedPrivateMLConfig) -> dict:
    """Worker i = rank i+1: receive X̃_i once, then answer every W̃_i with f(X̃_i, W̃_i) until stopped."""
    with transport.in_phase("control"):
        setup, _ = transport.recv(0, TAG_SETUP)
    F = PrimeField(setup["p"])
    coefficients = np.asarray(setup["coefficients"], dtype=np.int64)
    with transport.in_phase("data"):
        Xt, _ = transport.recv(0, TAG_DATA)
    # Compile the kernels (JIT backends) on one row before the timed iterations start.
    worker_compute(Xt[:1], np.zeros((Xt.shape[1], len(coefficients) - 1), dtype=np.int64), coefficients, F)
    transport.barrier()
    delay = float(config.straggle.get(transport.rank, 0.0))
    answered, compute, pending = [], [], []
    t = 0
    while True:
        with transport.in_phase("weights"):
            msg, _ = transport.recv(0, ANY_TAG)
        if isinstance(msg, dict):  # the master's stop
            break
        if math.isinf(delay):  # a dead worker: receives, never answers
            t += 1
            continue
        start = time.perf_counter()
        f = worker_compute(Xt, msg, coefficients, F)
        compute.append(time.perf_counter() - start)
        if delay > 0:
            time.sleep(delay)
        with transport.in_phase("results"):
            pending.append(transport.isend(f, 0, _result_tag(t)))
        answered.append(t)
        t += 1
    with transport.in_phase("control"):
        transport.send({"rank": transport.rank, "answered": answered, "compute": compute}, 0, TAG_SUMMARY)
    for req in pending:
        req.wait()
    return {"answered": answered, "compute": compute}


# -- master ---------------------------------------------------------------------------------------


class _Master:
    def __init__(self, transport, X, y, config, X_test, y_test, progress, keep_decoded):
        self.t, self.cfg = transport, config
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self.X.ndim != 2 or self.y.shape[0] != self.X.shape[0]:
            raise ValueError(f"X must be (m, d) and y (m,), got {self.X.shape} and {self.y.shape}")
        if transport.size != config.n_workers + 1:
            raise ValueError(f"{config.n_workers} workers need {config.n_workers + 1} ranks, the transport has "
                             f"{transport.size}")
        self.X_test, self.y_test = X_test, y_test
        self.progress, self.keep_decoded = progress, keep_decoded
        self.F = PrimeField(config.p)
        self.plan = config.plan()
        self.K, self.T = config.K_T()
        self.N = config.n_workers
        self.threshold = config.threshold()
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.workers = list(range(1, self.N + 1))

    def _timed(self, phase, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[phase] += time.perf_counter() - start
        return out

    def setup(self):
        cfg, F, t = self.cfg, self.F, self.t
        if self.X.shape[0] < self.K:
            raise ValueError(f"K = {self.K} blocks need at least K rows, the data has {self.X.shape[0]}")
        # Proof before training: nothing can wrap for the initial weights (and say how far w may grow).
        self.guard = WrapAroundGuard(self.X, self.plan)
        self.w = np.zeros(self.X.shape[1])
        self.guard.check(self.w, when="before training")
        self.max_safe_weight = self.guard.max_safe_weight()
        self.code = LagrangeCode(F, self.N, self.K, self.T)
        Xbar = self._timed("encoding", quantize, self.X, cfg.lx, F)  # eq. 4
        self.Xbar = Xbar
        Xt = self._timed("encoding", self.code.encode, Xbar)  # eqs. 9-10, fresh CSPRNG masks
        # X̄^T y in the reals, once: the label part of eq. 17 never leaves the master.
        self.Xq = F.lift(Xbar).astype(np.float64) / 2.0 ** cfg.lx
        self.Xty = self.Xq.T @ self.y
        self.lr = cfg.lr if cfg.lr is not None else lipschitz_lr(self.X, cfg.task)
        setup = {"p": F.p, "coefficients": self.plan.field_coefficients().tolist()}
        reqs = []
        with t.in_phase("control"):
            for rank in self.workers:
                t.send(setup, rank, TAG_SETUP)
        with t.in_phase("data"):
            for i, rank in enumerate(self.workers):
                reqs.append(t.isend(Xt[i], rank, TAG_DATA))
            for r in reqs:
                r.wait()
        start = time.perf_counter()
        self._warm_up()
        t.barrier()  # every rank compiled its kernels: the timed iterations start together
        self.seconds["setup"] = time.perf_counter() - start  # warm-up, not a Table II phase

    def _warm_up(self):
        """Run each master kernel once on tiny inputs so JIT compilation stays out of the phase times."""
        d, r, F = self.X.shape[1], self.plan.r, self.F
        W = quantize_stochastic(np.zeros(d), self.cfg.lw, F, copies=r, seed=0)
        self.code.encode_replicated(W)
        fake = {i: np.zeros(d, dtype=np.int64) for i in range(self.threshold)}
        blocks = self.code.decode(fake, 2 * r + 1)
        dequantize(modcombine(np.ones((1, self.K), dtype=np.int64), blocks, F, check=False)[0], 0, F)

    def iteration(self, it: int):
        cfg, F, t, plan = self.cfg, self.F, self.t, self.plan
        self.guard.check(self.w, when=f"iteration {it}")  # O(d) from norms computed once
        start = time.perf_counter()
        Wbar = quantize_stochastic(self.w, cfg.lw, F, copies=plan.r, seed=_draw_seed(cfg.seed, it))  # eqs. 7-8
        Wt = self.code.encode_replicated(Wbar)  # eqs. 11-12, fresh masks
        self.seconds["encoding"] += time.perf_counter() - start
        with t.in_phase("weights"):
            for i, rank in enumerate(self.workers):
                self.pending.append(t.isend(Wt[i], rank, TAG_WEIGHTS))
        with t.in_phase("results"):
            try:
                got = t.gather_first(self.workers, self.threshold, _result_tag(it), timeout=cfg.timeout)
            except TransportTimeout as exc:
                raise TransportTimeout(
                    f"iteration {it}: the master needs {self.threshold} = (2r+1)(K+T-1)+1 results but "
                    f"workers {exc.missing} did not answer within {cfg.timeout} s ({exc})",
                    missing=exc.missing) from None
        self.pending = [r for r in self.pending if not r.test()]
        self.used.append(list(got))
        start = time.perf_counter()
        blocks = self.code.decode({rank - 1: f for rank, f in got.items()}, 2 * plan.r + 1)  # eq. 21
        total = modcombine(np.ones((1, self.K), dtype=np.int64), blocks, F, check=False)[0]  # eq. 22
        Xs = dequantize(total, plan.exponent, F)  # eqs. 23-24: X̄^T s_hat(X̄ w) in the reals
        self.seconds["decoding"] += time.perf_counter() - start
        if self.keep_decoded:
            self.decoded.append(total)
        start = time.perf_counter()
        self.w = self.w - self.lr / self.X.shape[0] * (Xs - self.Xty)  # eq. 17
        self.seconds["update"] += time.perf_counter() - start

    def shutdown(self, wait_for: float) -> tuple[list, list]:
        """Stop the workers, drain the late results, collect each worker's compute times."""
        t = self.t
        summaries, warnings = {}, []
        with t.in_phase("control"):
            for rank in self.workers:
                t.send({"stop": True}, rank, TAG_CONTROL)
            for rank in self.workers:
                try:
                    summaries[rank], _ = t.recv(rank, TAG_SUMMARY, timeout=wait_for)
                except TransportTimeout:
                    warnings.append(f"worker rank {rank} did not report back within {wait_for:.3g} s")
        with t.in_phase("results"):
            consumed = {(rank, it) for it, ranks in enumerate(self.used) for rank in ranks}
            for rank, s in summaries.items():
                for it in s["answered"]:
                    if (rank, it) not in consumed:
                        t.recv(rank, _result_tag(it), timeout=wait_for)  # a late (straggler) result
        for r in self.pending:
            r.wait()
        return summaries, warnings

    def run(self) -> CodedPrivateMLResult:
        cfg, t = self.cfg, self.t
        wall = time.perf_counter()
        self.pending, self.used, self.decoded = [], [], []
        self.setup()
        history = [dict(iteration=0, **_metrics(cfg.task, self.w, self.X, self.y, self.X_test, self.y_test))]
        weights = [self.w.copy()]
        for it in range(cfg.max_iter):
            self.iteration(it)
            weights.append(self.w.copy())
            history.append(dict(iteration=it + 1,
                                **_metrics(cfg.task, self.w, self.X, self.y, self.X_test, self.y_test)))
            if self.progress is not None:
                self.progress(it + 1, history[-1])
        finite = [v for v in cfg.straggle.values() if math.isfinite(v)]
        summaries, warnings = self.shutdown(cfg.timeout + cfg.max_iter * max(finite, default=0.0))
        # Worker computation on the critical path: per iteration, the slowest of the workers decoded.
        compute = 0.0
        for it, ranks in enumerate(self.used):
            times = []
            for rank in ranks:
                s = summaries.get(rank)
                if s is not None and it in s["answered"]:
                    times.append(s["compute"][s["answered"].index(it)])
            compute += max(times, default=0.0)
        exchange = sum(t.log.phases[p].seconds for p in ("data", "weights", "results"))
        self.seconds["computation"] = compute
        self.seconds["communication"] = max(exchange - compute, 0.0)
        self.seconds["total"] = time.perf_counter() - wall
        traffic = {name: s.bytes_sent + s.bytes_received for name, s in t.log.phases.items()}
        params = cfg.public_parameters()
        params.update(lr=self.lr, m=int(self.X.shape[0]), d=int(self.X.shape[1]),
                      max_safe_weight=self.max_safe_weight)
        return CodedPrivateMLResult(self.w, params, history, self.seconds, traffic, self.used, weights,
                                    self.decoded, warnings)


def master_role(transport, X, y, config, *, X_test=None, y_test=None, progress=None,
                keep_decoded=False) -> CodedPrivateMLResult:
    """Rank 0 of Algorithm 1; ``progress(iteration, metrics)`` is called after every update."""
    return _Master(transport, X, y, config, X_test, y_test, progress, keep_decoded).run()


def run_codedprivateml(X, y, config: CodedPrivateMLConfig, *, X_test=None, y_test=None, transport="auto",
                       progress=None, record_payloads=False, keep_decoded=False, return_launch=False):
    """Run master and workers (MPI ranks or threads); the master's result (None on worker ranks).

    Under MPI every rank calls this; only rank 0 needs X and y (workers may pass anything).
    ``return_launch=True`` returns the :class:`~pyprivml.comm.LaunchResult` as well (transports
    and their logs, for tests).
    """

    def role(t):
        if t.rank == 0:
            return master_role(t, X, y, config, X_test=X_test, y_test=y_test, progress=progress,
                               keep_decoded=keep_decoded)
        return worker_role(t, config)

    run = launch(role, config.n_workers + 1, transport, record_payloads=record_payloads)
    return (run.master, run) if return_launch else run.master


def plaintext_gradient_field(Xbar, Wbar, config: CodedPrivateMLConfig) -> np.ndarray:
    """X̄^T s̄(X̄, W̄) over F_p computed directly, without coding: what decoding must reproduce."""
    plan = config.plan()
    return worker_compute(Xbar, Wbar, plan.field_coefficients(), plan.field)



# -- command line (``pyprivml train codedprivateml``) ----------------------------------------------


def add_arguments(parser) -> None:
    """Options of ``pyprivml train codedprivateml`` beyond the common ones of :mod:`pyprivml.cli`."""
    parser.add_argument("--fit-interval", default=None, metavar="LO,HI",
                        help=f"interval of the least-squares sigmoid fit (default {DEFAULT_INTERVAL[0]:g},"
                             f"{DEFAULT_INTERVAL[1]:g})")
    parser.add_argument("--linear", action="store_true", help="linear regression (Remark 1) instead of logistic")


def cli_train(args):
    """Run CodedPrivateML from parsed command-line arguments; the :class:`~pyprivml.report.Report` on
    rank 0 (None on worker ranks). Only rank 0 loads the data."""
    from ..comm import mpi_world, resolve_kind
    from ..estimators import gradient_descent
    from ..report import Report

    kind = resolve_kind(args.transport)
    world = mpi_world() if kind == "mpi" else None
    n_workers = args.workers if args.workers is not None else (world[1] - 1 if world else 12)
    interval = DEFAULT_INTERVAL if not args.fit_interval else tuple(float(v) for v in args.fit_interval.split(","))
    cfg = CodedPrivateMLConfig(
        n_workers=n_workers, K=args.K, T=args.T, case=args.case, degree=args.degree,
        task="linear" if args.linear else "logistic", lx=args.lx, lw=args.lw, lc=args.lc, p=args.p,
        max_iter=args.iters, lr=args.lr, fit_interval=interval, seed=args.seed, timeout=args.timeout,
        straggle=args.straggle)
    is_master = world is None or world[0] == 0
    X = y = Xte = yte = ds = None
    if is_master:
        from ..data import get_dataset

        ds = get_dataset(args.dataset, path=args.data_path, m=args.m, d=args.d, seed=args.split_seed)
        X, y, Xte, yte = ds.X_train, ds.y_train, ds.X_test, ds.y_test
        if cfg.lr is None:
            cfg.lr = lipschitz_lr(X, cfg.task)
    bar = None
    progress = None
    if is_master and args.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.max_iter, desc=f"CodedPrivateML N={n_workers}", unit="it", leave=False)

        def progress(it, metrics):
            bar.update(1)
            bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items() if k in ("loss", "accuracy", "r2")})

    result = run_codedprivateml(X, y, cfg, X_test=Xte, y_test=yte, transport=kind, progress=progress)
    if bar is not None:
        bar.close()
    if result is None:
        return None
    _, baseline = gradient_descent(X, y, lr=cfg.lr, max_iter=cfg.max_iter, task=cfg.task, X_test=Xte, y_test=yte)
    meta = {"transport": kind, "ranks": n_workers + 1, "warnings": result.warnings,
            "workers_used_per_iteration": result.used_workers, "dataset_info": ds.info}
    return Report.new("codedprivateml", result.parameters, dataset=ds.name, history=result.history,
                      baseline_history=baseline, seconds=result.seconds, bytes=result.bytes, meta=meta)
