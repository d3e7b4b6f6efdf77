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
Every role times its phases with the transport's clock (:func:`.sharing.clock_of`): encoding
(secret sharing at the master), communication, worker computation, online degree reduction,
the BH08 offline phase, decoding (opening at the master) and the model update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...field import DEFAULT_PRIME, PrimeField
from ...linalg import modcombine, modmatvec
from ...quantization import dequantize, quantize, quantize_stochastic
from ...random import SecureRandom
from ...shamir import shamir_share
from ..fixedpoint import FixedPointPlan, WrapAroundGuard
from ..sigmoid import fit_sigmoid
from .multiply import reducer_class
from .sharing import (DEFAULT_GROUPS, TAG_CONTROL, TAG_DATA, TAG_RESULT, TAG_WEIGHTS, clock_of,
                      fadd, make_groups)

__all__ = ["MPCConfig", "mpc_master", "mpc_worker", "mpc_role", "train_mpc", "expected_messages", "TASKS"]

TASKS = ("logistic", "linear")


@dataclass(frozen=True)
class MPCConfig:
    """Parameters of one BGW or BH08 training run (defaults: seed 004 sec. V, CIFAR-10)."""

    protocol: str = "bh08"
    N: int = 10
    T: int | None = None
    groups: int = DEFAULT_GROUPS
    iterations: int = 50
    lr: float = 1.0
    l_x: int = 2
    l_w: int = 6
    degree: int = 1
    task: str = "logistic"
    prime: int = DEFAULT_PRIME
    seed: int | None = None
    coefficients: tuple = field(default=())
    l_c: int | None = None

    def __post_init__(self):
        reducer_class(self.protocol)  # validates the name
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if not isinstance(self.iterations, int) or self.iterations < 0:
            raise ValueError(f"iterations must be a non-negative integer, got {self.iterations!r}")
        if not isinstance(self.degree, int) or self.degree < 1:
            raise ValueError(f"the polynomial degree r must be a positive integer, got {self.degree!r}")
        if not self.lr > 0:
            raise ValueError(f"the learning rate must be positive, got {self.lr!r}")
        make_groups(self.N, self.prime, T=self.T, groups=self.groups)  # validates N, T, G
        if self.coefficients and len(self.coefficients) != self.degree + 1:
            raise ValueError(f"coefficients must hold r + 1 = {self.degree + 1} values c_0..c_r, "
                             f"got {len(self.coefficients)}")

    def polynomial(self) -> tuple:
        """c_0..c_r: the given ones, else the least-squares sigmoid fit (eq. 13) for logistic
        regression and s(z) = z for linear regression."""
        if self.coefficients:
            return tuple(float(c) for c in self.coefficients)
        if self.task == "linear":
            return (0.0, 1.0) + (0.0,) * (self.degree - 1)
        return tuple(float(c) for c in fit_sigmoid(self.degree))

    def plan(self) -> FixedPointPlan:
        """The fixed-point scales, shared with CodedPrivateML."""
        return FixedPointPlan(self.field, self.l_x, self.l_w, self.polynomial(), self.l_c)

    @property
    def field(self) -> PrimeField:
        return PrimeField(self.prime)

    @property
    def threshold(self) -> int:
        return make_groups(self.N, self.prime, T=self.T, groups=self.groups)[0].T

    def make_groups(self):
        return make_groups(self.N, self.field, T=self.T, groups=self.groups)



def _row_blocks(m: int, G: int):
    """Row ranges of the G blocks X'_1..X'_G (sizes differ by at most one)."""
    bounds = np.linspace(0, m, G + 1).round().astype(int)
    return [(int(bounds[g]), int(bounds[g + 1])) for g in range(G)]


def _elements_per_iteration(rows: int, degree: int) -> int:
    """Field elements that go through degree reduction per iteration: Z (rows x r) and the
    r - 1 running products (rows each)."""
    return rows * degree + rows * (degree - 1)


def mpc_worker(transport, cfg: MPCConfig) -> dict:
    """Worker role: returns (and sends to the master) its seconds per phase."""
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
    with transport.in_phase("communication"):
        X, _ = transport.recv(source=0, tag=TAG_DATA)
    reducer.prepare(cfg.iterations * _elements_per_iteration(X.shape[0], cfg.degree))
    for _ in range(cfg.iterations):
        with transport.in_phase("communication"):
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
        with transport.in_phase("communication"):
            transport.send(result, 0, TAG_RESULT)
    stats["degree_reduction"] = reducer.online_seconds
    stats["offline"] = reducer.offline_seconds
    stats["rounds"] = reducer.rounds
    transport.send(stats, 0, TAG_CONTROL)
    return stats


def mpc_master(transport, cfg: MPCConfig, X, y, *, w0=None, callback=None) -> dict:
    """Master role: trains on (X, y) and returns the weights, history and seconds per phase.

    ``callback(t, w)``, if given, is called after every update.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    m, d = X.shape
    if y.shape[0] != m:
        raise ValueError(f"X has {m} rows but y has {y.shape[0]} labels")
    F, clock = cfg.field, clock_of(transport)
    plan = cfg.plan()
    guard = WrapAroundGuard(X, plan)
    groups = cfg.make_groups()
    blocks = _row_blocks(m, len(groups))
    if min(b - a for a, b in blocks) < 1:
        raise ValueError(f"m = {m} rows cannot be split into G = {len(groups)} non-empty blocks")
    rng = SecureRandom(cfg.seed)
    seconds = {k: 0.0 for k in ("encode", "communication", "decode", "update")}

    t0 = clock()
    with transport.in_phase("encode"):
        Xq = quantize(X, cfg.l_x, F)                          # eq. (4)
        shares = [shamir_share(Xq[a:b], g.n, g.T, F, rng=rng, points=g.points)
                  for g, (a, b) in zip(groups, blocks)]
    t1 = clock()
    with transport.in_phase("communication"):
        for g, sh in zip(groups, shares):
            for k, rank in enumerate(g.ranks):
                transport.send(np.ascontiguousarray(sh[k]), rank, TAG_DATA)
    seconds["encode"] += t1 - t0
    seconds["communication"] += clock() - t1
    del shares

    # The label term of eq. (17), X-bar^T y, the master computes itself in the reals.
    Xty = dequantize(Xq, cfg.l_x, F).T @ y
    w = np.zeros(d) if w0 is None else np.asarray(w0, dtype=np.float64).copy()
    stream = np.random.SeedSequence(cfg.seed)
    history = []
    for t in range(cfg.iterations):
        t0 = clock()
        guard.check(w, when=f"iteration {t}")
        with transport.in_phase("encode"):
            key = int(stream.spawn(1)[0].generate_state(1)[0]) if cfg.seed is not None else None
            Wq = quantize_stochastic(w, cfg.l_w, F, copies=cfg.degree, seed=key)   # eqs. (7)-(8)
            wshares = [shamir_share(Wq, g.n, g.T, F, rng=rng, points=g.points) for g in groups]
        t1 = clock()
        with transport.in_phase("communication"):
            for g, sh in zip(groups, wshares):
                for k, rank in enumerate(g.ranks):
                    transport.send(np.ascontiguousarray(sh[k]), rank, TAG_WEIGHTS)
            results = [[transport.recv(source=rank, tag=TAG_RESULT)[0] for rank in g.ranks]
                       for g in groups]
        t2 = clock()
        with transport.in_phase("decode"):
            total = np.zeros(d, dtype=np.int64)
            for g, res in zip(groups, results):
                opened = modcombine(g.recombination()[None, :], np.stack(res), F,
                                    check=False)[0]            # degree 2T from all 2T+1 shares
                total = fadd(total, opened, F)                 # eq. (22): sum over the G blocks
        t3 = clock()
        with transport.in_phase("update"):
            grad = dequantize(total, plan.exponent, F) - Xty  # eq. (23), then eq. (17)
            w = w - cfg.lr / m * grad
            if callback is not None:
                callback(t, w)
            history.append(w.copy())
        t4 = clock()
        seconds["encode"] += t1 - t0
        seconds["communication"] += t2 - t1
        seconds["decode"] += t3 - t2
        seconds["update"] += t4 - t3

    workers = {}
    with transport.in_phase("control"):
        for rank in range(1, cfg.N + 1):
            workers[rank], _ = transport.recv(source=rank, tag=TAG_CONTROL)
    active = [s for s in workers.values() if s["rounds"] > 0] or [dict(computation=0.0,
                                                                      degree_reduction=0.0, offline=0.0)]
    return {
        "weights": w,
        "history": history,
        "seconds": seconds,
        "worker_seconds": {k: max(s[k] for s in active) for k in ("computation", "degree_reduction",
                                                                   "offline")},
        "rounds_per_iteration": (max(s.get("rounds", 0) for s in active) / cfg.iterations
                                 if cfg.iterations else 0.0),
        "groups": [g.ranks for g in groups],
        "T": groups[0].T,
    }


def mpc_role(cfg: MPCConfig, X=None, y=None, *, w0=None, callback=None):
    """A role function ``role(transport)`` for the launchers: master on rank 0, workers elsewhere."""
    if cfg.N + 1 < 2:
        raise ValueError("need at least one worker")

    def role(transport):
        if transport.size != cfg.N + 1:
            raise ValueError(f"the {cfg.protocol} run needs N + 1 = {cfg.N + 1} ranks (master and "
                             f"N workers), the transport has {transport.size}")
        if transport.rank == 0:
            return mpc_master(transport, cfg, X, y, w0=w0, callback=callback)
        return mpc_worker(transport, cfg)

    return role


def expected_messages(protocol: str, T: int, groups: int = DEFAULT_GROUPS) -> int:
    """Messages of one degree-reduction round over all groups: G n (n - 1) for BGW, G 2 (n - 1)
    for BH08 (n = 2T + 1)."""
    n = 2 * T + 1
    per_group = n * (n - 1) if protocol == "bgw" else 2 * (n - 1)
    return groups * per_group



def train_mpc(X, y, cfg: MPCConfig, *, launcher: str = "inprocess", network=None, w0=None,
              callback=None) -> dict:
    """Run a whole BGW or BH08 training on N + 1 ranks of one process and return the master's
    result (weights, history, seconds per phase, worker seconds, groups, T) plus the traffic.

    ``launcher="inprocess"`` runs every rank as a thread (real time); ``"simulated"`` runs them
    one at a time on :mod:`pyprivml.simulate`'s modelled ``network`` and adds the simulated
    ``total`` and ``breakdown`` (virtual seconds).
    """
    role = mpc_role(cfg, X, y, w0=w0, callback=callback)
    if launcher == "simulated":
        from ...simulate import EC2_M3_XLARGE, run_simulated

        run = run_simulated(role, cfg.N + 1, network=network or EC2_M3_XLARGE)
        out = dict(run.results[0])
        out["simulated_total"] = run.total
        out["breakdown"] = run.critical_path
    elif launcher == "inprocess":
        from ...comm.inprocess import run_inprocess

        run = run_inprocess(role, cfg.N + 1)
        out = dict(run.results[0])
    else:
        raise ValueError(f"launcher must be 'inprocess' or 'simulated', got {launcher!r}")
    traffic = [t.log for t in run.transports]
    out["messages"] = {ph: sum(log.phases[ph].messages_sent for log in traffic if ph in log.phases)
                       for ph in sorted({ph for log in traffic for ph in log.phases})}
    out["bytes"] = {ph: sum(log.phases[ph].bytes_sent for log in traffic if ph in log.phases)
                    for ph in out["messages"]}
    return out
