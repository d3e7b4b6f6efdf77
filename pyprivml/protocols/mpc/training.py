"""Logistic and linear regression trained by the BGW or BH08 baseline (seed 004, sec. V, app. D).

The roles mirror CodedPrivateML's (Algorithm 1) so the three protocols differ only in how the
gradient is computed privately:

Master (rank 0, the data owner)
    quantises X with l_x (eq. 4), splits its rows into G blocks X'_g (sec. V) and Shamir-shares
    block g with degree T inside group g (P_g(z) = X'_g + z Z_g1 + ... + z^T Z_gT). Every
    iteration it quantises the weights stochastically into r columns W-bar (eqs. 6-8), shares
    W-bar with degree T inside every group, opens each group's degree-2T result from all of its
    2T+1 shares, and updates w in the reals (eq. 17).
Worker j of group g
    holds [X'_g]_T and [W-bar]_T. With one degree reduction (:mod:`.multiply`) per product it
    computes [Z]_T = [X'_g W-bar]_T, the running products [P_i]_T = [P_{i-1} * Z_i]_T (eq. 15,
    i = 2..r), the share [s-bar]_T = c-bar_0 + sum_i c-bar_i [P_i]_T (public coefficients: no
    communication), and sends the degree-2T share of X'_g^T s-bar (eq. 18) to the master, which
    opens it from the group's 2T+1 shares, so this last product needs no reduction.

Fixed point and truncation
--------------------------
No truncation is needed anywhere. The circuit has fixed multiplicative depth r + 1, so every
scale is known in advance and is the one CodedPrivateML uses
(:class:`pyprivml.protocols.fixedpoint.FixedPointPlan`): Z at 2**(l_x + l_w), P_i at
2**(i (l_x + l_w)), the coefficients c-bar_i = Round(c_i 2**(l_c + (r - i)(l_x + l_w))), and
X'^T s-bar at 2**l with l = l_x + l_c + r (l_x + l_w) (eq. 23 with the coefficient bits l_c).
The prime is chosen so that nothing wraps around, and the master checks it every iteration with
the same :class:`~pyprivml.protocols.fixedpoint.WrapAroundGuard`; it removes the scale only
when it converts back to the reals (eq. 23). The sum over groups of the opened values is exactly
X-bar^T s-bar(X-bar, W-bar) of the whole dataset: the same field elements CodedPrivateML decodes
for the same W-bar (eq. 22), so for the same weight quantisation the three protocols take the
same steps.

Timing
------
Every role times its phases with the transport's clock (:func:`.sharing.clock_of`, virtual on the
simulated cluster) and the result has CodedPrivateML's phases (encoding = secret sharing at the
master, communication, computation, decoding = opening at the master, update, total) plus the
workers' online ``degree_reduction`` and BH08 ``offline`` seconds. Communication is, as for
CodedPrivateML, the master's time exchanging data, weights and results minus the slowest
worker's computation, so it includes the degree-reduction rounds between workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...field import DEFAULT_PRIME, PrimeField
from ...linalg import modcombine, modmatmul, modmatvec
from ...quantization import dequantize, quantize, quantize_stochastic
from ...random import SecureRandom
from ...shamir import shamir_share
from ..fixedpoint import FixedPointPlan, WrapAroundGuard
from ..codedprivateml import PHASES, CodedPrivateMLConfig, CodedPrivateMLResult, _draw_seed, _metrics, lipschitz_lr
from ..sigmoid import DEFAULT_INTERVAL, fit_sigmoid
from .multiply import reducer_class
from .sharing import (DEFAULT_GROUPS, TAG_CONTROL, TAG_DATA, TAG_RESULT, TAG_WEIGHTS, clock_of,
                      fadd, fmul, make_groups)

__all__ = ["MPCConfig", "mpc_master", "mpc_worker", "mpc_role", "run_mpc", "message_counts",
           "expected_messages", "TASKS"]

TASKS = ("logistic", "linear")


@dataclass(frozen=True)
class MPCConfig:
    """Parameters of one BGW or BH08 run, named as in
    :class:`~pyprivml.protocols.codedprivateml.CodedPrivateMLConfig` (and with its defaults for
    lx, lw, p, the iterations and lr = 1/L) plus the protocol, T >= 1 and the number of
    groups G (sec. V: G = 3, T = floor((N-3)/6) unless given).

    ``seed`` drives only the stochastic quantisation of w (eqs. 6-8), so that runs and the three
    protocols can take identical steps; the Shamir masks of X and W and the workers' degree
    reduction masks always come from fresh unseeded :class:`~pyprivml.random.SecureRandom`
    streams, whatever ``seed`` is."""

    protocol: str = "bh08"
    n_workers: int = 10
    T: int | None = None
    groups: int = DEFAULT_GROUPS
    degree: int = 1
    task: str = "logistic"
    lx: int = CodedPrivateMLConfig.lx
    lw: int = CodedPrivateMLConfig.lw
    lc: int | None = None
    p: int = DEFAULT_PRIME
    max_iter: int = CodedPrivateMLConfig.max_iter
    lr: float | None = None
    fit_interval: tuple = DEFAULT_INTERVAL
    seed: int | None = None

    def __post_init__(self):
        reducer_class(self.protocol)  # validates the name
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.task == "linear" and self.degree != 1:
            raise ValueError("linear regression (Remark 1) uses s_hat(z) = z: degree must be 1")
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer, got {self.max_iter!r}")
        if not isinstance(self.degree, (int, np.integer)) or self.degree < 1:
            raise ValueError(f"the polynomial degree r must be a positive integer, got {self.degree!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"the learning rate must be positive, got {self.lr!r}")
        if isinstance(self.T, (int, np.integer)) and not isinstance(self.T, bool) and self.T < 1:
            # make_groups accepts T = 0 (groups of one worker), but then shamir_share adds no mask
            # and every worker would receive its raw block X'_g: refuse it, as CodedPrivateML does.
            raise ValueError(f"the privacy threshold T must be >= 1 (T = 0 would give no privacy: each "
                             f"worker would hold its rows of the quantised data in the clear), got T = {self.T}")
        make_groups(self.n_workers, self.p, T=self.T, groups=self.groups)  # validates N, T, G

    @property
    def field(self) -> PrimeField:
        return PrimeField(self.p)

    def make_groups(self):
        return make_groups(self.n_workers, self.field, T=self.T, groups=self.groups)

    @property
    def threshold(self) -> int:
        """The privacy threshold T actually used."""
        return self.make_groups()[0].T

    def coefficients(self) -> tuple:
        """c_0..c_r: CodedPrivateML's least-squares sigmoid fit (eq. 13), or z for linear regression."""
        if self.task == "linear":
            return (0.0, 1.0)
        return tuple(fit_sigmoid(self.degree, self.fit_interval))

    def plan(self) -> FixedPointPlan:
        """The fixed-point scales, shared with CodedPrivateML."""
        return FixedPointPlan(self.field, self.lx, self.lw, self.coefficients(), self.lc)

    def public_parameters(self) -> dict:
        plan = self.plan()
        return {"protocol": self.protocol, "N": self.n_workers, "K": self.groups, "G": self.groups,
                "T": self.threshold, "r": self.degree, "task": self.task, "lx": self.lx, "lw": self.lw,
                "lc": plan.lc, "l": plan.exponent, "p": self.p, "iterations": self.max_iter,
                "groups": [list(g.ranks) for g in self.make_groups()],
                "coefficients": list(plan.coefficients),
                "quantized_coefficients": plan.signed_coefficients().tolist()}


def _row_blocks(m: int, G: int):
    """Row ranges of the G blocks X'_1..X'_G (sizes differ by at most one)."""
    bounds = np.linspace(0, m, G + 1).round().astype(int)
    return [(int(bounds[g]), int(bounds[g + 1])) for g in range(G)]


def _elements_per_iteration(rows: int, degree: int) -> int:
    """Field elements that go through degree reduction per iteration: Z (rows x r) and the
    r - 1 running products (rows each)."""
    return rows * degree + rows * (degree - 1)


def _warm_up(F) -> None:
    """Run every kernel the roles use once on tiny inputs, so JIT compilation (numba) stays out
    of the phase times; all ranks then meet at a barrier, as CodedPrivateML's do."""
    a = np.ones((2, 2), dtype=np.int64)
    modmatmul(a, a, F, check=False)
    modmatvec(a, a[0], F, transpose=True, check=False)
    modcombine(a, a, F, check=False)
    fadd(fmul(a, a, F), a, F)
    shamir_share(a, 3, 1, F)
    quantize(np.zeros((2, 2)), 0, F)
    quantize_stochastic(np.zeros(2), 0, F, copies=1, seed=0)


def mpc_worker(transport, cfg: MPCConfig) -> dict:
    """Worker role: returns (and sends to the master) its seconds per phase."""
    _warm_up(cfg.field)
    transport.barrier()
    groups = cfg.make_groups()
    mine = [g for g in groups if transport.rank in g.ranks]
    stats = {"computation": 0.0, "degree_reduction": 0.0, "offline": 0.0, "rounds": 0}
    if not mine:  # workers beyond G (2T + 1) idle (sec. V)
        transport.send(stats, 0, TAG_CONTROL)
        return stats
    group = mine[0]
    F, clock = group.field, clock_of(transport)
    reducer = reducer_class(cfg.protocol)(transport, group, SecureRandom())
    c = cfg.plan().field_coefficients()                       # public c-bar_0..c-bar_r
    with transport.in_phase("data"):
        X, _ = transport.recv(source=0, tag=TAG_DATA)
    reducer.prepare(cfg.max_iter * _elements_per_iteration(X.shape[0], cfg.degree))
    for _ in range(cfg.max_iter):
        with transport.in_phase("weights"):
            W, _ = transport.recv(source=0, tag=TAG_WEIGHTS)
        t0, red0 = clock(), reducer.online_seconds
        with transport.in_phase("computation"):
            Z = reducer.matmul(X, W)                          # [X'_g W-bar]_T, one reduction
            P = [Z[:, 0]]
            for i in range(1, cfg.degree):                    # eq. (15): running products
                P.append(reducer.multiply(P[-1], Z[:, i]))
            s_bar = fadd(modcombine(c[None, 1:], np.stack(P), F, check=False)[0], c[0], F)
            result = modmatvec(X, s_bar, F, transpose=True, check=False)   # eq. (18), degree 2T
        stats["computation"] += clock() - t0 - (reducer.online_seconds - red0)
        with transport.in_phase("results"):
            transport.send(result, 0, TAG_RESULT)
    stats["degree_reduction"] = reducer.online_seconds
    stats["offline"] = reducer.offline_seconds
    stats["rounds"] = reducer.rounds
    transport.send(stats, 0, TAG_CONTROL)
    return stats


def mpc_master(transport, cfg: MPCConfig, X, y, *, X_test=None, y_test=None,
               progress=None) -> CodedPrivateMLResult:
    """Master role: trains on (X, y); returns CodedPrivateML's result type (same report format).

    ``seconds`` holds CodedPrivateML's phases (encoding = secret sharing, communication,
    computation = the slowest active worker's local work, decoding = opening, update, total) plus
    the workers' ``degree_reduction`` (online) and ``offline`` seconds. ``progress(iteration,
    metrics)`` is called after every update.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2 or y.shape[0] != X.shape[0]:
        raise ValueError(f"X must be (m, d) and y (m,), got {X.shape} and {y.shape}")
    m, d = X.shape
    F, clock = cfg.field, clock_of(transport)
    plan = cfg.plan()
    groups = cfg.make_groups()
    blocks = _row_blocks(m, len(groups))
    if min(b - a for a, b in blocks) < 1:
        raise ValueError(f"m = {m} rows cannot be split into G = {len(groups)} non-empty blocks")
    rng = SecureRandom()
    seconds = dict.fromkeys(PHASES, 0.0)
    start = clock()                 # "total" runs from here, as CodedPrivateML's does
    _warm_up(F)
    transport.barrier()
    seconds["setup"] = clock() - start                       # warm-up, not a Table II phase

    # Untimed, as in CodedPrivateML: the wrap-around proof and the learning rate.
    guard = WrapAroundGuard(X, plan)
    guard.check(np.zeros(d), when="before training")
    lr = cfg.lr if cfg.lr is not None else lipschitz_lr(X, cfg.task)
    t0 = clock()
    with transport.in_phase("encoding"):
        Xq = quantize(X, cfg.lx, F)                           # eq. (4)
        shares = [shamir_share(Xq[a:b], g.n, g.T, F, rng=rng, points=g.points)
                  for g, (a, b) in zip(groups, blocks)]
    seconds["encoding"] += clock() - t0
    # The label term of eq. (17), X-bar^T y, the master computes itself in the reals (untimed,
    # as in CodedPrivateML).
    Xty = dequantize(Xq, cfg.lx, F).T @ y
    with transport.in_phase("data"):
        for g, sh in zip(groups, shares):
            for k, rank in enumerate(g.ranks):
                transport.send(sh[k], rank, TAG_DATA)
    del shares

    w = np.zeros(d)
    history = [dict(iteration=0, **_metrics(cfg.task, w, X, y, X_test, y_test))]
    weights = [w.copy()]
    for t in range(cfg.max_iter):
        guard.check(w, when=f"iteration {t}")
        t0 = clock()
        with transport.in_phase("encoding"):
            Wq = quantize_stochastic(w, cfg.lw, F, copies=cfg.degree,
                                     seed=_draw_seed(cfg.seed, t))          # eqs. (7)-(8)
            wshares = [shamir_share(Wq, g.n, g.T, F, rng=rng, points=g.points) for g in groups]
        seconds["encoding"] += clock() - t0
        with transport.in_phase("weights"):
            for g, sh in zip(groups, wshares):
                for k, rank in enumerate(g.ranks):
                    transport.send(sh[k], rank, TAG_WEIGHTS)
        with transport.in_phase("results"):
            results = [[transport.recv(source=rank, tag=TAG_RESULT)[0] for rank in g.ranks]
                       for g in groups]
        t0 = clock()
        with transport.in_phase("decoding"):
            total = np.zeros(d, dtype=np.int64)
            for g, res in zip(groups, results):
                opened = modcombine(g.recombination()[None, :], np.stack(res), F,
                                    check=False)[0]            # degree 2T from all 2T+1 shares
                total = fadd(total, opened, F)                 # eq. (22): sum over the G blocks
            Xs = dequantize(total, plan.exponent, F)          # eqs. (23)-(24)
        t1 = clock()
        with transport.in_phase("update"):
            w = w - lr / m * (Xs - Xty)                       # eq. (17)
        seconds["decoding"] += t1 - t0
        seconds["update"] += clock() - t1
        weights.append(w.copy())
        history.append(dict(iteration=t + 1, **_metrics(cfg.task, w, X, y, X_test, y_test)))
        if progress is not None:
            progress(t + 1, history[-1])

    workers = {}
    with transport.in_phase("control"):
        for rank in range(1, cfg.n_workers + 1):
            workers[rank], _ = transport.recv(source=rank, tag=TAG_CONTROL)
    active = [s for s in workers.values() if s["rounds"] > 0]
    for key in ("computation", "degree_reduction", "offline"):
        seconds[key] = max((s[key] for s in active), default=0.0)
    exchange = sum(transport.log.phases[ph].seconds for ph in ("data", "weights", "results"))
    seconds["communication"] = max(exchange - seconds["computation"], 0.0)
    seconds["total"] = clock() - start
    params = cfg.public_parameters()
    params.update(lr=lr, m=m, d=d, rounds_per_iteration=(
        max((s["rounds"] for s in active), default=0) / cfg.max_iter if cfg.max_iter else 0.0))
    traffic = {name: st.bytes_sent + st.bytes_received for name, st in transport.log.phases.items()}
    return CodedPrivateMLResult(w, params, history, seconds, traffic,
                                [[r for g in groups for r in g.ranks]] * cfg.max_iter, weights)


def mpc_role(cfg: MPCConfig, X=None, y=None, *, X_test=None, y_test=None, progress=None):
    """A role function ``role(transport)`` for the launchers: master on rank 0, workers elsewhere."""

    def role(transport):
        if transport.size != cfg.n_workers + 1:
            raise ValueError(f"the {cfg.protocol} run needs N + 1 = {cfg.n_workers + 1} ranks (master "
                             f"and N workers), the transport has {transport.size}")
        if transport.rank == 0:
            return mpc_master(transport, cfg, X, y, X_test=X_test, y_test=y_test, progress=progress)
        return mpc_worker(transport, cfg)

    return role


def expected_messages(protocol: str, T: int, groups: int = DEFAULT_GROUPS) -> int:
    """Messages of one degree-reduction round over all groups: G n (n - 1) for BGW, G 2 (n - 1)
    for BH08 (n = 2T + 1)."""
    n = 2 * T + 1
    per_group = n * (n - 1) if protocol == "bgw" else 2 * (n - 1)
    return groups * per_group



def run_mpc(X, y, cfg: MPCConfig, *, X_test=None, y_test=None, transport="auto", progress=None,
            network=None, record_payloads=False, return_launch=False):
    """Run master and workers and return the master's result (None on MPI worker ranks), like
    :func:`~pyprivml.protocols.codedprivateml.run_codedprivateml`.

    ``transport`` is a :func:`pyprivml.comm.launch` kind ("auto", "inprocess", "mpi") or
    ``"simulated"``: the ranks then run one at a time on :mod:`pyprivml.simulate`'s ``network``
    (default EC2 m3.xlarge) and every time in the result is virtual.
    """
    role = mpc_role(cfg, X, y, X_test=X_test, y_test=y_test, progress=progress)
    if transport == "simulated":
        from ...simulate import EC2_M3_XLARGE, run_simulated

        run = run_simulated(role, cfg.n_workers + 1, network=network or EC2_M3_XLARGE,
                            record_payloads=record_payloads)
        master = run.results[0]
    else:
        from ...comm import launch

        run = launch(role, cfg.n_workers + 1, transport, record_payloads=record_payloads)
        master = run.master
    return (master, run) if return_launch else master


def message_counts(run) -> dict:
    """Messages sent per transport phase, summed over all ranks of a launch or simulation."""
    logs = [t.log for t in run.transports]
    names = sorted({ph for log in logs for ph in log.phases})
    return {ph: sum(log.phases[ph].messages_sent for log in logs if ph in log.phases) for ph in names}
