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

The Gram variant (r = 1)
------------------------
For degree r = 1 the opened result is X'_g^T (c-bar_0 + c-bar_1 X'_g W-bar) =
c-bar_0 X'_g^T 1 + c-bar_1 (X'_g^T X'_g) W-bar, the same field elements. So the master, which
owns the data, may instead share H_g = [X'_g^T X'_g | X'_g^T 1] (d x (d+1)) with degree T once;
worker j then answers c-bar_0 [u_g]_T + c-bar_1 [G_g]_T [W-bar]_T, a degree-2T share that the
master opens as before, and no degree reduction is needed at all: each iteration costs the
workers O(d^2) and no communication among them (issue 13, item 6; the seed authors' baselines
precompute X^T X likewise). T colluding workers still see only degree-T Shamir shares with fresh
uniform masks, now of H_g instead of X'_g. ``gram=None`` takes it whenever
:meth:`MPCConfig.uses_gram` says it is cheaper; the weights are identical either way.

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
Every role times its phases with the transport's clock (:meth:`pyprivml.comm.Transport.now`,
virtual on the simulated cluster) and the result has the task's phases
(:class:`pyprivml.protocols.regression.RegressionMaster`: encoding = secret sharing at the master,
communication, computation, decoding = opening at the master, update, total, and the setup and
metrics phases outside Table II) plus the workers' online ``degree_reduction`` and BH08
``offline`` seconds. Communication is the master's time exchanging data, weights and results
minus the slowest worker's computation, so it includes the degree-reduction rounds between
workers and BH08's offline phase, which the workers run before the first iteration for all J
iterations of the run.

Example
-------
>>> from pyprivml.data import load_digits49
>>> ds = load_digits49()
>>> cfg = MPCConfig(protocol="bh08", n_workers=9, max_iter=3, seed=0)      # G = 3 groups of 2T+1 = 3
>>> cfg.privacy_threshold, [g.ranks for g in cfg.make_groups()]
(1, [(1, 2, 3), (4, 5, 6), (7, 8, 9)])
>>> res = run_mpc(ds.X_train, ds.y_train, cfg, transport="inprocess")
>>> len(res.history), res.history[-1]["loss"] < res.history[0]["loss"]
(4, True)
>>> res.parameters["gram"], res.parameters["rounds_per_iteration"]   # r = 1, d = 65: the Gram variant
(True, 0.0)
>>> run_mpc(ds.X_train, ds.y_train, MPCConfig(protocol="bh08", n_workers=9, max_iter=3, seed=0, gram=False),
...         transport="inprocess").parameters["rounds_per_iteration"]   # one degree reduction each
1.0

"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...backends import warm_up as warm_up_kernels
from ...comm import launch
from ...linalg import modadd, modcombine, modmatmul, modmatvec, modmul
from ...quantization import quantize, quantize_stochastic
from ...random import SecureRandom
from ...shamir import shamir_share
from ..regression import RegressionConfig, RegressionMaster, RegressionResult, gram_pays
from .multiply import reducer_class
from .sharing import DEFAULT_GROUPS, TAGS, make_groups

__all__ = ["MPCConfig", "mpc_master", "mpc_worker", "mpc_role", "run_mpc", "trainer", "message_counts",
           "expected_messages"]


@dataclass(frozen=True, kw_only=True)
class MPCConfig(RegressionConfig):
    """Parameters of one BGW or BH08 run: the task's (:class:`~pyprivml.protocols.regression.RegressionConfig`,
    with CodedPrivateML's defaults for l_x, l_w, p, the iterations and lr = 1/L) plus the protocol,
    the privacy threshold T >= 1 and the number of groups G (sec. V: G = 3, T = floor((N-3)/6)
    unless given).

    ``seed`` drives only the stochastic quantisation of w (eqs. 6-8), so that runs and the three
    protocols can take identical steps; the Shamir masks of X and W and the workers' degree
    reduction masks always come from fresh unseeded :class:`~pyprivml.random.SecureRandom`
    streams, whatever ``seed`` is."""

    protocol: str = "bh08"
    n_workers: int = 10
    T: int | None = None
    groups: int = DEFAULT_GROUPS
    gram: bool | None = None

    def validate(self) -> None:
        reducer_class(self.protocol)  # validates the name
        super().validate()
        if self.gram not in (None, True, False):
            raise ValueError(f"gram must be True, False or None (automatic), got {self.gram!r}")
        if self.gram and self.degree != 1:
            raise ValueError(f"the Gram variant needs degree r = 1 (X^T s-bar is then linear in X^T X), "
                             f"got degree = {self.degree}; use gram=False or None")
        if isinstance(self.T, (int, np.integer)) and not isinstance(self.T, bool) and self.T < 1:
            # make_groups accepts T = 0 (groups of one worker), but then shamir_share adds no mask
            # and every worker would receive its raw block X'_g: refuse it, as CodedPrivateML does.
            raise ValueError(f"the privacy threshold T must be >= 1 (T = 0 would give no privacy: each "
                             f"worker would hold its rows of the quantised data in the clear), got T = {self.T}")
        make_groups(self.n_workers, self.p, T=self.T, groups=self.groups)  # validates N, T, G

    def make_groups(self):
        return make_groups(self.n_workers, self.field, T=self.T, groups=self.groups)

    def uses_gram(self, rows: int, d: int) -> bool:
        """Whether workers holding `rows` x `d` blocks get the Gram variant's shares. Automatic,
        for r = 1: when the master's one-time X'^T X' (rows d² products) plus J iterations of d²
        cost less than J iterations of the direct 2 rows d products and a degree-reduction round,
        counted as :data:`ROUND_COST` products (measured under mpiexec at N = 9, d = 100 and
        N = 13, d = 1000, the variant took 5.2 against 8.7 ms and 10.1 against 15.9 ms per
        iteration, docs/BENCHMARKS.md; at the seed's CIFAR-10 shape its X'^T X' costs more than
        50 iterations save)."""
        if self.gram is not None:
            return self.gram
        return gram_pays(rows, d, self.max_iter, self.degree, direct_extra=ROUND_COST)

    @property
    def privacy_threshold(self) -> int:
        """The privacy threshold T actually used (T colluding workers learn nothing)."""
        return self.make_groups()[0].T

    def public_parameters(self) -> dict:
        return {**self.task_parameters(), "protocol": self.protocol, "G": self.groups,
                "T": self.privacy_threshold, "privacy_threshold": self.privacy_threshold,
                "groups": [list(g.ranks) for g in self.make_groups()]}


#: A degree-reduction round in multiply-adds: about 5 ms of kernel time at 50 G products per
#: second, what a round costs under mpiexec on the machines of docs/BENCHMARKS.md.
ROUND_COST = 1 << 28


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
    warm_up_kernels(F.p)
    a = np.ones((2, 2), dtype=np.int64)
    modmatmul(a, a, F, check=False)
    modmatvec(a, a[0], F, transpose=True, check=False)
    modcombine(a, a, F, check=False)
    modadd(modmul(a, a, F, check=False), a, F, check=False)
    shamir_share(a, 3, 1, F)
    quantize(np.zeros((2, 2)), 0, F)
    quantize_stochastic(np.zeros(2), 0, F, copies=1, seed=0)


def mpc_worker(transport, cfg: MPCConfig) -> dict:
    """Worker role: returns (and sends to the master) its seconds per phase."""
    groups = cfg.make_groups()
    mine = [g for g in groups if transport.rank in g.ranks]
    stats = {"computation": 0.0, "degree_reduction": 0.0, "offline": 0.0, "rounds": 0, "active": False}
    _warm_up(cfg.field)
    if not mine:  # workers beyond G (2T + 1) idle (sec. V)
        transport.barrier()
        transport.send(stats, 0, TAGS.control)
        return stats
    group = mine[0]
    F = group.field
    stats["active"] = True
    with transport.in_phase("control"):
        block = transport.recv(source=0, tag=TAGS.control)[0]     # public: the block's height, variant
    rows, gram = block["rows"], block["gram"]
    transport.barrier()
    reducer = reducer_class(cfg.protocol)(transport, group, SecureRandom())
    c = cfg.plan().field_coefficients()                       # public c-bar_0..c-bar_r
    # BH08's offline phase for all J iterations needs no data, so it runs before the upload.
    reducer.prepare(0 if gram else cfg.max_iter * _elements_per_iteration(rows, cfg.degree))
    with transport.in_phase("data"):
        X, _ = transport.recv(source=0, tag=TAGS.data)        # [X'_g]_T (D.1), or [H_g]_T (Gram variant)
    if gram:  # [G_g]_T contiguous, in uint32 (shares < p < 2**32): read as is by the kernels every iteration
        G, u = np.ascontiguousarray(X[:, :-1], dtype=np.uint32), np.ascontiguousarray(X[:, -1])
    for _ in range(cfg.max_iter):
        with transport.in_phase("weights"):
            W, _ = transport.recv(source=0, tag=TAGS.weights)
        t0, red0 = transport.now(), reducer.online_seconds
        with transport.in_phase("computation"):
            if gram:                                          # c0 [X^T 1]_T + c1 [X^T X]_T [W]_T, degree 2T
                GW = modmatvec(G, W[:, 0], F, check=False)
                result = modcombine(c[None, :], np.stack([u, GW]), F, check=False)[0]
            else:
                Z = reducer.matmul(X, W)                      # [X'_g W-bar]_T, one reduction
                P = [Z[:, 0]]
                for i in range(1, cfg.degree):                # eq. (15): running products
                    P.append(reducer.multiply(P[-1], Z[:, i]))
                s_bar = modadd(modcombine(c[None, 1:], np.stack(P), F, check=False)[0], c[0], F,
                               check=False)                   # public coefficients, (D.2)
                result = modmatvec(X, s_bar, F, transpose=True, check=False)   # eq. (18), degree 2T
        stats["computation"] += transport.now() - t0 - (reducer.online_seconds - red0)
        with transport.in_phase("results"):
            transport.send(result, 0, TAGS.result)
    stats["degree_reduction"] = reducer.online_seconds
    stats["offline"] = reducer.offline_seconds
    stats["rounds"] = reducer.rounds
    transport.send(stats, 0, TAGS.control)
    return stats


class _MPCMaster(RegressionMaster):
    """The master: the task's loop with Shamir sharing in groups (encoding) and group-wise opening
    from all 2T+1 shares (decoding)."""

    def __init__(self, transport, config: MPCConfig, X, y, **kwargs):
        super().__init__(transport, config, X, y, **kwargs)
        self.groups = config.make_groups()
        self.blocks = _row_blocks(self.X.shape[0], len(self.groups))
        if min(b - a for a, b in self.blocks) < 1:
            raise ValueError(f"m = {self.X.shape[0]} rows cannot be split into G = {len(self.groups)} "
                             f"non-empty blocks")
        self.rng = SecureRandom()
        self.rounds = 0
        self.gram = config.uses_gram(max(b - a for a, b in self.blocks), self.X.shape[1])
        self.opening = np.concatenate([g.recombination() for g in self.groups])[None, :]

    def parameters(self) -> dict:
        params = self.cfg.public_parameters()
        params["rounds_per_iteration"] = self.rounds / self.cfg.max_iter if self.cfg.max_iter else 0.0
        params["gram"] = self.gram
        return params

    def _share(self, values, tag, phase):
        """Shamir-share ``values`` inside every group (D.1) and send each worker its share."""
        with self.timer("encoding"):
            shares = self._share_in_groups(values)
        with self.transport.in_phase(phase):
            for g, sh in zip(self.groups, shares):
                for k, rank in enumerate(g.ranks):
                    self.transport.send(sh[k], rank, tag)

    def _share_in_groups(self, values) -> list:
        """Group g's shares of ``values[g]`` (each entry with its own fresh random polynomial). Every
        group has the same points 1..2T+1 (sharing.py), so same-shape values are shared in one call:
        the shares of a stack are the stack of the shares."""
        g0 = self.groups[0]
        if len({np.shape(v) for v in values}) == 1:
            stacked = shamir_share(np.stack(values), g0.n, g0.T, self.F, rng=self.rng, points=g0.points)
            return [stacked[:, g] for g in range(len(self.groups))]
        return [shamir_share(v, g.n, g.T, self.F, rng=self.rng, points=g.points)
                for g, v in zip(self.groups, values)]

    def announce(self):
        with self.transport.in_phase("control"):
            for g, (a, b) in zip(self.groups, self.blocks):
                for rank in g.ranks:
                    self.transport.send({"rows": b - a, "gram": self.gram}, rank, TAGS.control)

    def distribute(self, Xbar):
        blocks = [Xbar[a:b] for a, b in self.blocks]
        if self.gram:                     # H_g = [X'_g^T X'_g | X'_g^T 1], computed by the data owner
            with self.timer("encoding"):
                blocks = [np.column_stack([modmatmul(np.ascontiguousarray(X.T), X, self.F, check=False),
                                           modmatvec(X, np.ones(X.shape[0], dtype=np.int64), self.F,
                                                     transpose=True, check=False)]) for X in blocks]
        self._share(blocks, TAGS.data, "data")                                 # block g to group g

    def warm_up(self):
        _warm_up(self.F)

    def private_gradient(self, it, Wbar):
        t, F = self.transport, self.F
        self._share([Wbar] * len(self.groups), TAGS.weights, "weights")
        self.while_waiting()                                   # the last update's metrics
        with t.in_phase("results"):
            results = [[t.recv(source=rank, tag=TAGS.result)[0] for rank in g.ranks] for g in self.groups]
        self.used.append([r for g in self.groups for r in g.ranks])
        with self.timer("decoding"):
            # Each group's degree-2T result opened from all 2T+1 shares, and eq. (22)'s sum over the
            # G blocks, in one combination: the groups' recombination vectors side by side.
            total = modcombine(self.opening, np.concatenate([np.stack(res) for res in results]), F,
                               check=False)[0]
        return total

    def finish(self) -> float:
        t = self.transport
        with t.in_phase("control"):
            workers = [t.recv(source=rank, tag=TAGS.control)[0] for rank in range(1, self.cfg.n_workers + 1)]
        active = [s for s in workers if s["active"]]
        for key in ("degree_reduction", "offline"):
            self.timer.seconds[key] = max((s[key] for s in active), default=0.0)
        self.rounds = max((s["rounds"] for s in active), default=0)
        return max((s["computation"] for s in active), default=0.0)


def mpc_master(transport, cfg: MPCConfig, X, y, *, X_test=None, y_test=None, progress=None) -> RegressionResult:
    """Master role: trains on (X, y); returns the task's result (the report format of every protocol).

    ``seconds`` holds the task's phases plus the workers' ``degree_reduction`` (online) and
    ``offline`` seconds; ``progress`` (a tqdm bar or None) advances after every update.
    """
    return _MPCMaster(transport, cfg, X, y, X_test=X_test, y_test=y_test, progress=progress).run()


def mpc_role(cfg: MPCConfig, X=None, y=None, *, X_test=None, y_test=None, progress=None):
    """A role function ``role(transport)`` for the launchers: master on rank 0, workers elsewhere."""

    def role(transport):
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


def run_mpc(X, y, cfg: MPCConfig, *, X_test=None, y_test=None, transport="auto", network=None, progress=None,
            record_payloads=False, return_launch=False):
    """Run master and workers and return the master's result (None on MPI worker ranks), like
    :func:`~pyprivml.protocols.codedprivateml.run_codedprivateml`: ``transport`` is any
    :func:`pyprivml.comm.launch` kind, ``network`` the model of a simulated run."""
    run = launch(mpc_role(cfg, X, y, X_test=X_test, y_test=y_test, progress=progress), cfg.n_workers + 1,
                 transport, network=network, record_payloads=record_payloads)
    return (run.master, run) if return_launch else run.master


def trainer(protocol: str):
    """``train(X, y, *, transport, network, X_test, y_test, progress, **params)`` for ``protocol``
    ("bgw" or "bh08"): :func:`run_mpc` with ``MPCConfig(protocol=protocol, **params)``."""

    def train(X, y, *, transport="auto", network=None, X_test=None, y_test=None, progress=None, **params):
        return run_mpc(X, y, MPCConfig(protocol=protocol, **params), transport=transport, network=network,
                       X_test=X_test, y_test=y_test, progress=progress)

    train.__doc__ = (f"Train with {protocol.upper()}; ``params`` are :class:`MPCConfig`'s fields "
                     "(n_workers, T, max_iter, lr, ...).")
    return train


def message_counts(run) -> dict:
    """Messages sent per transport phase, summed over all ranks of a launch or simulation."""
    logs = [t.log for t in run.transports if t is not None]
    names = sorted({ph for log in logs for ph in log.phases})
    return {ph: sum(log.phases[ph].messages_sent for log in logs if ph in log.phases) for ph in names}
