"""A GradientCoin peer: one user who trains, mines, pays and gossips (seed 002 Algorithms 1 and 6).

The peer is a message handler with no transport of its own, so the same code runs under
``mpiexec`` (:mod:`.run`), in threads, and on the seeded event network (:mod:`.network`):

* :meth:`Peer.receive` takes one message (:mod:`.wire`) and returns the messages to send, as
  ``(destination, message)`` pairs;
* :meth:`Peer.candidate` is Algorithm 6's block template: rebuild x_t along the best chain
  (the chain keeps it), run K local gradient steps on the peer's private part f_c of the
  objective (Algorithm 1, lines 12-15), turn Δx into the payload the consensus rules accept
  (sketched with the seed the previous block's hash gives, Algorithm 5; clipped and noised when
  user-level DP is on), and add the coinbase and the mempool's transactions;
* :meth:`Peer.found` accepts the peer's own mined block and announces it.

Gossip follows Bitcoin: a new valid block or transaction is announced by hash (``inv``) to the
neighbours; a peer asks (``getdata``) only for what it lacks; a block whose parent is unknown
waits in the orphan pool while the peer asks the sender for its branch (``getblocks`` with a
block locator); :meth:`Peer.sync` asks one neighbour the same way at intervals, which heals lost
messages, partitions and restarts.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from . import losses, payload
from .chain import Block, Chain, build_block
from .mempool import Mempool
from .store import ChainStore, model_digest
from .tx import Transaction, make_payment
from .utxo import ValidationError
from .wire import check_message, decode_block, encode_block

__all__ = ["Peer", "PeerStats"]


@dataclass
class PeerStats:
    """What one peer saw: blocks it mined and accepted, what it refused and why (blocks and
    transactions apart: a relayed payment whose coin the peer has not seen confirmed yet is
    normal traffic, a refused block is not)."""

    mined: int = 0
    accepted: int = 0
    orphans: int = 0
    payments: int = 0
    rejected: Counter = field(default_factory=Counter)
    rejected_txs: Counter = field(default_factory=Counter)


class Peer:
    """Peer ``rank`` of a network of peers. ``objective`` is its private part f_c (never sent),
    ``wallet`` its keys, ``neighbours`` the ranks it gossips with, ``store`` an optional
    :class:`.store.ChainStore` that every accepted block is written to (one transaction each)."""

    def __init__(self, rank: int, params, objective, wallet, neighbours, *, local_steps: int = 1,
                 lr: float = 0.1, store: ChainStore | None = None, dp=None, noise=None, accountant=None):
        self.rank = int(rank)
        self.params = params
        self.objective = objective
        self.wallet = wallet
        self.neighbours = [int(n) for n in neighbours if int(n) != self.rank]
        self.local_steps, self.lr = int(local_steps), float(lr)
        self.store = store
        self.dp, self.noise = dp, noise                # dp: (clip, epsilon, delta) of each release, or None
        if dp is not None and accountant is None:
            from ...dp import PrivacyAccountant

            accountant = PrivacyAccountant("rdp")      # every published Δx composes here
        self.accountant = accountant
        self.chain = store.load(params) if store is not None else Chain(params)
        self.chain.mempool = Mempool(maturity=params.maturity)
        self.stats = PeerStats()
        self.requested: set[bytes] = set()
        self.events: list[tuple] = []          # (time, "block" | "reorg", height, detail) for the plots

    # -- state -----------------------------------------------------------------------------------

    @property
    def tip(self) -> bytes:
        return self.chain.tip

    def knows(self, h: bytes) -> bool:
        return h in self.chain.index or h in self.chain.invalid or any(
            b.hash() == h for waiting in self.chain.orphans.values() for b in waiting)

    def _persist(self) -> None:
        if self.store is not None:
            self.store.save(self.chain)

    def _announce(self, kind: str, h: bytes, exclude: int | None = None) -> list:
        return [(n, ("inv", kind, [h])) for n in self.neighbours if n != exclude]

    # -- Algorithm 6: the block template -----------------------------------------------------------

    def update_for_tip(self) -> payload.ModelUpdate:
        """Δx of K local steps from x_t, as the consensus rules want it (sketched, norm-fitted)."""
        x = self.chain.model()
        delta = losses.local_steps(self.objective, x, self.local_steps, self.lr)
        if self.dp is not None:
            clip, eps, delta_dp = self.dp
            # accounted in found(): a template that is never published releases nothing
            delta = payload.privatize_update(delta, clip, eps, delta_dp, noise=self.noise)
        return self.params.rules.make_update(delta, self.chain.tip, fit=True)

    def candidate(self, now: int, max_transactions: int = 50) -> Block:
        """An unmined block on the tip: coinbase, the mempool's best transactions, the update."""
        txs = self.chain.mempool.select(max_transactions)
        times = self.chain._ancestor_times(self.chain.tip)
        t = max(int(now), sorted(times)[len(times) // 2] + 1)     # above the median time past
        return build_block(self.chain, self.wallet.public_key, self.update_for_tip(), txs, time=t)

    def pay(self, to: bytes, amount: int, fee: int) -> list:
        """A signed payment from this peer's mature coins, added to its mempool and announced;
        [] when it cannot afford it."""
        height = self.chain.height + 1
        coins = [(op, out) for op, out in self.chain.utxo.spendable(self.wallet.public_key, height,
                                                                   maturity=self.params.maturity)
                 if op not in self.chain.mempool.spent]          # not already spent by a pending payment
        if sum(out.value for _, out in coins) < amount + fee:
            return []
        tx = make_payment(self.wallet, coins, to, amount, fee)
        self.chain.mempool.add(tx, self.chain.utxo, height)
        self.stats.payments += 1
        return self._announce("tx", tx.txid())

    def found(self, block: Block, now: float | None = None) -> list:
        """Our own mined block: accept it and announce it (with DP on, its Δx is a release)."""
        self.stats.mined += 1
        if self.dp is not None:
            from ...dp import ClippedGaussian

            self.accountant.add_gaussian(ClippedGaussian(*self.dp).noise_multiplier, steps=1)
        return self._accept(block, source=None, now=now)

    # -- messages ----------------------------------------------------------------------------------

    def receive(self, source: int, message, now: float | None = None) -> list:
        """Handle one message from ``source``; the messages to send in answer."""
        kind = check_message(message)
        if kind == "inv":
            _, what, hashes = message
            if what == "block":
                want = [h for h in hashes if not self.knows(h) and h not in self.requested]
                self.requested.update(want)
            else:
                want = [h for h in hashes if h not in self.chain.mempool]
            return [(source, ("getdata", what, want))] if want else []
        if kind == "getdata":
            _, what, hashes = message
            out = []
            for h in hashes:
                if what == "block" and h in self.chain.blocks and h in self.chain.index:
                    out.append((source, ("block", encode_block(self.chain.blocks[h]))))
                elif what == "tx" and self.chain.mempool.get(h) is not None:
                    out.append((source, ("tx", self.chain.mempool.get(h).serialize())))
            return out
        if kind == "block":
            try:
                block = decode_block(message[1])
            except ValueError as exc:
                self.stats.rejected["malformed-block"] += 1
                self.events.append((now, "rejected", self.chain.height, f"malformed: {exc}"))
                return []
            self.requested.discard(block.hash())
            return self._accept(block, source=source, now=now)
        if kind == "tx":
            try:
                tx = Transaction.from_bytes(message[1])
                if tx.txid() in self.chain.mempool:
                    return []
                self.chain.mempool.add(tx, self.chain.utxo, self.chain.height + 1)
            except ValueError as exc:       # ValidationError is a ValueError
                self.stats.rejected_txs[getattr(exc, "reason", "malformed-tx")] += 1
                return []
            return self._announce("tx", tx.txid(), exclude=source)
        if kind == "getblocks":
            hashes = [b.hash() for b in self.chain.blocks_after(list(message[1]))]
            return [(source, ("inv", "block", hashes))] if hashes else []
        return []      # status, stop and final are the runner's (.run)

    def sync(self, neighbour: int) -> list:
        """Ask ``neighbour`` for what follows our branch (heals losses, partitions, restarts).
        Requests still unanswered are forgotten, so what they asked for is asked again."""
        self.requested.clear()
        return [(neighbour, ("getblocks", self.chain.locator()))]

    def _accept(self, block: Block, *, source, now) -> list:
        h, old_tip, reorgs = block.hash(), self.chain.tip, len(self.chain.reorganisations)
        try:
            status = self.chain.submit(block, now=None if now is None else int(math.ceil(now)))
        except ValidationError as exc:
            self.stats.rejected[exc.reason] += 1
            self.events.append((now, "rejected", self.chain.height, exc.reason))
            self._persist()        # a reorganisation may have failed half-way and come back
            return []
        if status == "orphan":
            self.stats.orphans += 1
            return self.sync(source) if source is not None else []
        if status == "duplicate":
            return []
        self.stats.accepted += 1
        self._persist()
        for fork, depth in self.chain.reorganisations[reorgs:]:
            self.events.append((now, "reorg", fork, depth))
        if self.chain.tip != old_tip:
            self.events.append((now, "tip", self.chain.height, h))
        return self._announce("block", h, exclude=source)

    def loss(self) -> float:
        """f_c(x_t) on this peer's own part (reported for the plots, never sent)."""
        return float(self.objective.value(self.chain.model()))

    def summary(self) -> dict:
        """What the runner compares across peers at the end (no private data)."""
        return {"rank": self.rank, "tip": self.chain.tip.hex(), "height": self.chain.height,
                "work": self.chain.work, "utxo": self.chain.utxo.digest().hex(),
                "model": model_digest(self.chain.x).hex(), "x": self.chain.model(),
                "balance": self.chain.utxo.balance(self.wallet.public_key),
                "mined": self.stats.mined, "accepted": self.stats.accepted, "orphans": self.stats.orphans,
                "payments": self.stats.payments, "rejected": dict(self.stats.rejected),
                "rejected_txs": dict(self.stats.rejected_txs),
                "reorganisations": list(self.chain.reorganisations),
                "epsilon": None if self.dp is None else self.accountant.epsilon(self.dp[2])}

