"""Running a GradientCoin network: under ``mpiexec`` (one peer per rank), in threads, or on the
seeded event network (seed 002 Algorithms 1, 5 and 6).

:class:`GradientCoinConfig` fixes the public set-up that the genesis block commits to (the
objective, the difficulty, the update bound, the sketch); :func:`make_peers` builds the peers
(each with its private share of the objective and its wallet); :func:`peer_role` is the loop
every rank runs over a transport; :func:`simulate` runs the same peers on an
:class:`.network.EventNetwork`.

The transport loop of one peer, as a Bitcoin node's: take every waiting message
(``probe`` + ``recv``, non-blocking sends with ``isend``; no collective anywhere in the race),
mine a slice of nonces on its current template, and at intervals ask a random neighbour for
its branch. Payments: after each block it mines, a peer pays a random other peer a part of its
mature coins, so coins move along the way.

Termination without a barrier: every peer broadcasts ``("status", tip, height, idle)`` when it
changes; a peer goes idle (stops mining, keeps relaying) once its height reaches ``height``.
Rank 0 stops the run when every peer's latest status is "idle on the same tip": nothing still
in flight can then change a tip (an idle peer mines nothing, and a block mined before it went
idle has at most the work of the tip it went idle on). When every peer is idle but the tips
differ (a tie of equal work), rank 0 mines one more block, which breaks it as in Bitcoin.
Finally rank 0 collects each peer's summary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ProtocolConfig, check_int, check_real
from ..tags import tags_for
from . import losses, payload, pow as proof
from .chain import ChainParams
from .network import EventNetwork
from .peer import Peer
from .store import ChainStore
from .tx import Wallet

__all__ = ["GradientCoinConfig", "make_objective", "make_params", "make_peer", "make_peers", "peer_role",
           "run_network", "simulate", "RunSummary", "LOSSES", "config_dict", "config_from_dict", "wallet_of"]

TAGS = tags_for("gradientcoin")
LOSSES = ("softmax", "ridge", "logistic")
#: Regtest's easiest target (about every other nonce meets it): what the event network uses.
EASY_BITS = 0x207FFFFF


@dataclass(frozen=True, kw_only=True)
class GradientCoinConfig(ProtocolConfig):
    """The public parameters of a run (the genesis block fixes those marked *consensus*).

    ``bits``: compact difficulty (*consensus*; 0x1e0fffff ≈ 2²⁰ hashes a block);
    ``loss``: softmax (Definition 13), ridge (seed 000) or logistic; ``local_steps`` K and
    ``lr`` η of Algorithm 1; ``max_update_norm``: the bound on a block's step (*consensus*;
    None: 4 × the first honest step); ``sketch``/``b``: Algorithm 5's sketch (*consensus*);
    ``height``: blocks to build; ``payment``: the fraction of its mature coins a peer pays after
    each block it mines (0: no payments); ``dp``: (clip, ε, δ) user-level DP on Δx, or None.
    """

    peers: int = 6
    loss: str = "softmax"
    bits: int = 0x1E0FFFFF
    local_steps: int = 2
    lr: float | None = None
    max_update_norm: float | None = None
    sketch: str | None = None
    b: int | None = None
    height: int = 30
    payment: float = 0.3
    dp: tuple | None = None
    retarget_interval: int = 2016
    maturity: int = 5
    sync_every: float = 1.0
    slice_nonces: int = 4096

    def validate(self) -> None:
        super().validate()
        check_int("peers", self.peers, minimum=2)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        proof.compact_to_target(self.bits)
        check_int("local_steps", self.local_steps, minimum=1)
        check_int("height", self.height, minimum=1)
        check_int("maturity", self.maturity, minimum=1)
        check_int("retarget_interval", self.retarget_interval, minimum=2)
        if self.lr is not None:
            check_real("lr", self.lr, positive=True)
        if self.max_update_norm is not None:
            check_real("max_update_norm", self.max_update_norm, positive=True)
        if not 0 <= self.payment < 1:
            raise ValueError(f"payment is a fraction of the mature coins in [0, 1), got {self.payment}")
        if (self.sketch is None) != (self.b is None):
            raise ValueError("a sketch needs both --sketch KIND and --b N (or neither)")
        if self.dp is not None and len(self.dp) != 3:
            raise ValueError(f"dp is (clip, epsilon, delta), got {self.dp!r}")


def make_objective(loss: str, seed: int = 0):
    """The whole objective L = Σ_c f_c of a run (public shapes, private data once split)."""
    if loss == "softmax":       # Definition 13 on random data of its shapes, Lemma 14's regime
        return losses.AttentionRegression.random(n=12, d=3, seed=seed, structure="generic", w=3.0)
    rng = np.random.default_rng(seed)
    if loss == "ridge":
        X = rng.normal(size=(600, 10))
        y = X @ rng.normal(size=10) + 0.1 * rng.normal(size=600)
        return losses.RidgeRegression(X / math.sqrt(600), y / math.sqrt(600), lam=0.01)
    if loss == "logistic":
        from sklearn.datasets import load_breast_cancer
        from sklearn.preprocessing import StandardScaler

        X, y = load_breast_cancer(return_X_y=True)
        X = StandardScaler().fit_transform(X) / math.sqrt(len(X))
        return losses.LogisticRegression(X, y, lam=0.01)
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")


def default_lr(objective) -> float:
    """η = 1 / λ_max(∇²L(x₀)): safe for the whole objective, so a step on one user's part
    f_c ≈ L / N moves x by about a 1/N-th of a gradient-descent step on L."""
    return 1.0 / float(np.linalg.eigvalsh(objective.hessian(np.zeros(objective.dim))).max())


def make_params(config: GradientCoinConfig, objective) -> ChainParams:
    """The genesis parameters: rules, x₀ = 0, difficulty (fixed: no retarget inside a run unless
    ``retarget_interval`` is small), reward and maturity."""
    d = objective.dim
    bound = config.max_update_norm
    if bound is None:         # 4 × the honest full-data step at x₀: room for every honest block
        lr = config.lr or default_lr(objective)
        bound = 4 * float(np.linalg.norm(losses.local_steps(objective, np.zeros(d), config.local_steps, lr)))
        bound = max(bound, 1e-6)
    rules = payload.ConsensusRules(max_update_norm=bound, d=d, sketch_kind=config.sketch, sketch_b=config.b)
    return ChainParams(rules=rules, x0=np.zeros(d), genesis_bits=config.bits, pow_limit_bits=EASY_BITS,
                       retarget_interval=config.retarget_interval, target_spacing=1, maturity=config.maturity)


def config_dict(config: GradientCoinConfig) -> dict:
    """The configuration as JSON-able values (the inverse of ``GradientCoinConfig(**d)``)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}


def config_from_dict(d: dict) -> GradientCoinConfig:
    return GradientCoinConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


def wallet_of(rank: int, seed: int) -> Wallet:
    """Peer ``rank``'s keys, reproducible from the run's seed (public runs; real users generate)."""
    return Wallet.from_seed(hashlib.sha256(b"pyprivml/gradientcoin/peer/%d/%d" % (seed, rank)).digest())


def make_peer(rank: int, config: GradientCoinConfig, *, objective=None, params=None, db_dir=None,
              neighbours=None) -> Peer:
    """Peer ``rank`` with its private share f_rank of the objective (rows it alone holds)."""
    seed = config.seed or 0
    objective = objective or make_objective(config.loss, seed)
    params = params or make_params(config, objective)
    part = objective.split(config.peers, seed=seed)[rank]
    store = None
    if db_dir is not None:
        Path(db_dir).mkdir(parents=True, exist_ok=True)
        store = ChainStore(Path(db_dir) / f"peer{rank}.sqlite")
        store.set_info({"rank": rank, "config": config_dict(config)})
    neighbours = [r for r in range(config.peers) if r != rank] if neighbours is None else neighbours
    return Peer(rank, params, part, wallet_of(rank, seed), neighbours, local_steps=config.local_steps,
                lr=config.lr or default_lr(objective), store=store, dp=config.dp)


def make_peers(config: GradientCoinConfig, *, db_dir=None) -> dict:
    objective = make_objective(config.loss, config.seed or 0)
    params = make_params(config, objective)
    return {r: make_peer(r, config, objective=objective, params=params, db_dir=db_dir) for r in range(config.peers)}


def payment_after_block(peer: Peer, config: GradientCoinConfig, rng) -> list:
    """After a block it mined, the peer pays a random other peer ``payment`` of its mature coins."""
    if config.payment <= 0:
        return []
    height = peer.chain.height + 1
    mature = sum(out.value for op, out in peer.chain.utxo.spendable(peer.wallet.public_key, height,
                                                                     maturity=peer.params.maturity)
                 if op not in peer.chain.mempool.spent)
    amount = int(mature * config.payment)
    if amount <= 1000:
        return []
    others = [r for r in range(config.peers) if r != peer.rank]
    to = wallet_of(int(rng.choice(others)), config.seed or 0).public_key
    return peer.pay(to, amount, fee=1000)


# -- over a transport (MPI, threads) ------------------------------------------------------------------

@dataclass
class RunSummary:
    """Rank 0's view of a finished run: every peer's final summary and the run's history."""

    config: GradientCoinConfig
    peers: list
    seconds: float
    history: list = field(default_factory=list)     # (height, loss of the whole objective) on rank 0's branch
    events: list = field(default_factory=list)      # rank 0's tip changes, reorganisations, rejections

    @property
    def agreed(self) -> bool:
        keys = ("tip", "utxo", "model")
        return all(all(p[k] == self.peers[0][k] for k in keys) for p in self.peers)


def peer_role(config: GradientCoinConfig, *, db_dir=None, progress=None):
    """The role every rank runs: peer ``transport.rank`` of ``config.peers``."""

    def role(transport):
        if transport.size != config.peers:
            raise ValueError(f"--peers {config.peers} needs as many ranks, got {transport.size}")
        me = transport.rank
        peer = make_peer(me, config, db_dir=db_dir)
        rng = np.random.default_rng((config.seed or 0) * 1000 + me)
        everyone = [r for r in range(transport.size) if r != me]
        pending, statuses, stop = [], {}, False
        start = time.monotonic()
        next_sync = start + config.sync_every
        template, template_tip, nonce = None, None, 0
        last_status = None

        def post(messages, tag=TAGS.gossip):
            for dest, message in messages:
                pending.append(transport.isend(message, dest, tag))

        target, quiet_since = config.height, None

        def status():
            nonlocal last_status
            s = (peer.tip, peer.chain.height, peer.chain.height >= target)
            if s != last_status:
                last_status = s
                statuses[me] = s
                post([(r, ("status", *s)) for r in everyone], TAGS.control)
            return s[2]

        def note_tip(before):
            if progress is not None and me == 0 and peer.chain.height > before:
                progress.update(min(peer.chain.height, config.height) - min(before, config.height))

        while not stop:
            if time.monotonic() - start > config.timeout:
                raise TimeoutError(f"peer {me}: no agreement on a tip after {config.timeout} s at height "
                                   f"{peer.chain.height} (statuses: {len(statuses)} of {transport.size})")
            while transport.probe():
                message, src = transport.recv()
                if message[0] == "status":
                    statuses[src] = tuple(message[1:])
                elif message[0] == "stop":
                    stop = True
                    break
                else:
                    before = peer.chain.height
                    post(peer.receive(src, message, now=time.time()))
                    note_tip(before)
            if stop:
                break
            idle = status()
            if me == 0 and len(statuses) == transport.size and all(s[2] for s in statuses.values()):
                if all(s[0] == peer.tip for s in statuses.values()):
                    post([(r, ("stop",)) for r in everyone], TAGS.control)
                    break
                # everyone stopped, on tips of equal work: as in Bitcoin, the next block breaks
                # the tie. Rank 0 mines it once the statuses have been quiet for a moment.
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 0.2:
                    target, quiet_since = max(s[1] for s in statuses.values()) + 1, None
                    idle = status()
            else:
                quiet_since = None
            if not idle:
                if template_tip != peer.tip or nonce >= 2**32 - config.slice_nonces:
                    template, template_tip, nonce = peer.candidate(int(time.time())), peer.tip, 0
                found = proof.mine(template.header, start_nonce=nonce, max_tries=config.slice_nonces)
                nonce += config.slice_nonces
                if found is not None:
                    before = peer.chain.height
                    block = type(template)(found, template.transactions, template.update)
                    post(peer.found(block, now=time.time()))
                    post(payment_after_block(peer, config, rng))
                    note_tip(before)
                    template_tip = None
            else:
                time.sleep(0.002)
            if time.monotonic() >= next_sync:
                post(peer.sync(int(rng.choice(everyone))))
                next_sync = time.monotonic() + config.sync_every
            pending[:] = [r for r in pending if not r.test()]
        for r in pending:
            r.wait()
        summary = peer.summary()
        summary["events"] = peer.events
        if me != 0:
            transport.send(("final", summary), 0, TAGS.final)
            return None
        finals = [summary] + [transport.recv(r, TAGS.final, timeout=config.timeout)[0][1] for r in everyone]
        objective = make_objective(config.loss, config.seed or 0)
        history = [(h, float(objective.value(x))) for h, x in peer.chain.models()]
        return RunSummary(config, finals, time.monotonic() - start, history, peer.events)

    return role


def run_network(config: GradientCoinConfig, *, transport="auto", db_dir=None, progress=None, record_payloads=False):
    """Run every peer over a transport; rank 0's :class:`RunSummary` (None on other MPI ranks)."""
    from ...comm import launch

    res = launch(peer_role(config, db_dir=db_dir, progress=progress), config.peers, transport,
                 record_payloads=record_payloads)
    return res.master if res.rank == 0 else None, res


# -- on the event network --------------------------------------------------------------------------

def simulate(config: GradientCoinConfig, *, db_dir=None, until_height=None, **network_options):
    """The same peers on a seeded :class:`.network.EventNetwork` with the regtest difficulty (the
    race is decided by the simulated clock); returns the network after the run."""
    cfg = config.replace(bits=EASY_BITS)
    peers = make_peers(cfg, db_dir=db_dir)
    net = EventNetwork(peers, seed=cfg.seed or 0, **network_options)
    rng = np.random.default_rng(cfg.seed or 0)
    net.run(until_height=until_height or cfg.height,
            on_block=lambda n, r: n.send(r, payment_after_block(n.peers[r], cfg, rng)))
    return net
