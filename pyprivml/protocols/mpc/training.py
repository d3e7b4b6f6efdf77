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
    i = 2..r), and sends the degree-2T shares of X'_g^T P_i, i = 1..r, to the master: a product
    whose degree 2T the master can still open from the group's 2T+1 shares, so the last
    multiplication needs no reduction.

Fixed point and truncation
--------------------------
No truncation is needed anywhere. The circuit has fixed multiplicative depth r + 1, so the
scale of every value is known in advance, exactly as in CodedPrivateML: Z is at scale
2**(l_x + l_w), P_i at 2**(i (l_x + l_w)) and X'^T P_i at 2**(l_x + i (l_x + l_w)), which for
i = r is the l of eq. (23). The prime is chosen (as for CodedPrivateML, sec. III-A) so that
these values never wrap around; the master removes the scale when it converts back to the reals
(eq. 23) and applies the real coefficients c_i of the sigmoid polynomial (eq. 13) there, so they
are never rounded to the field. The decoded sum over groups is exactly X-bar^T P_i of the whole
dataset, the same field elements CodedPrivateML decodes for the same W-bar (eq. 22).

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
from ...linalg import modmatmul
from ...quantization import dequantize, quantize, quantize_stochastic
from ...random import SecureRandom
from ...shamir import shamir_share
from .multiply import reducer_class
from .sharing import (DEFAULT_GROUPS, TAG_CONTROL, TAG_DATA, TAG_RESULT, TAG_WEIGHTS, clock_of,
                      make_groups)

__all__ = ["MPCConfig", "mpc_master", "mpc_worker", "mpc_role", "TASKS"]

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

    @property
    def field(self) -> PrimeField:
        return PrimeField(self.prime)

    @property
    def threshold(self) -> int:
        return make_groups(self.N, self.prime, T=self.T, groups=self.groups)[0].T

    def make_groups(self):
        return make_groups(self.N, self.field, T=self.T, groups=self.groups)

    def term_scale(self, i: int) -> int:
        """The scale exponent of X^T P_i: l_x + i (l_x + l_w) (eq. 23 for i = r)."""
        return self.l_x + i * (self.l_x + self.l_w)


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
            terms = modmatmul(X.T, np.stack(P, axis=1), F, check=False)   # degree 2T, (d, r)
        stats["computation"] += clock() - t0 - (reducer.online_seconds - red0)
        with transport.in_phase("communication"):
            transport.send(terms, 0, TAG_RESULT)
    stats["degree_reduction"] = reducer.online_seconds
    stats["offline"] = reducer.offline_seconds
    stats["rounds"] = reducer.rounds
    transport.send(stats, 0, TAG_CONTROL)
    return stats


def mpc_master(transport, cfg: MPCConfig, X, y, *, coefficients, w0=None, callback=None) -> dict:
    """Master role: trains on (X, y) and returns the weights, history and seconds per phase.

    ``coefficients`` are the real c_0..c_r of the sigmoid polynomial (eq. 13; c = (0, 1) for
    linear regression). ``callback(t, w)``, if given, is called after every update.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    m, d = X.shape
    if y.shape[0] != m:
        raise ValueError(f"X has {m} rows but y has {y.shape[0]} labels")
    c = np.asarray(coefficients, dtype=np.float64)
    if c.shape != (cfg.degree + 1,):
        raise ValueError(f"need r + 1 = {cfg.degree + 1} coefficients, got shape {c.shape}")
    F, clock = cfg.field, clock_of(transport)
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

    # The parts of the gradient the master computes itself from the quantised data (eq. 17):
    # c_0 X-bar^T 1 and X-bar^T y, in the reals.
    Xbar = dequantize(Xq, cfg.l_x, F)
    base = c[0] * Xbar.sum(axis=0) - Xbar.T @ y
    del Xbar
    w = np.zeros(d) if w0 is None else np.asarray(w0, dtype=np.float64).copy()
    stream = np.random.SeedSequence(cfg.seed)
    history = []
    for t in range(cfg.iterations):
        t0 = clock()
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
            total = np.zeros((d, cfg.degree), dtype=np.int64)
            for g, res in zip(groups, results):
                opened = modmatmul(g.recombination()[None, :], np.stack(res).reshape(g.n, -1), F,
                                   check=False).reshape(d, cfg.degree)   # degree 2T, all 2T+1
                total = (total + opened) % F.p
        t3 = clock()
        with transport.in_phase("update"):
            grad = base.copy()
            for i in range(1, cfg.degree + 1):                # eq. (23), then eq. (17)
                grad += c[i] * dequantize(total[:, i - 1], cfg.term_scale(i), F)
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


def mpc_role(cfg: MPCConfig, X=None, y=None, *, coefficients, w0=None, callback=None):
    """A role function ``role(transport)`` for the launchers: master on rank 0, workers elsewhere."""
    if cfg.N + 1 < 2:
        raise ValueError("need at least one worker")

    def role(transport):
        if transport.size != cfg.N + 1:
            raise ValueError(f"the {cfg.protocol} run needs N + 1 = {cfg.N + 1} ranks (master and "
                             f"N workers), the transport has {transport.size}")
        if transport.rank == 0:
            return mpc_master(transport, cfg, X, y, coefficients=coefficients, w0=w0, callback=callback)
        return mpc_worker(transport, cfg)

    return role


def expected_messages(protocol: str, T: int, groups: int = DEFAULT_GROUPS) -> int:
    """Messages of one degree-reduction round over all groups: G n (n - 1) for BGW, G 2 (n - 1)
    for BH08 (n = 2T + 1)."""
    n = 2 * T + 1
    per_group = n * (n - 1) if protocol == "bgw" else 2 * (n - 1)
    return groups * per_group

