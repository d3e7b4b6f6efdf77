"""A seeded, discrete-event network for GradientCoin peers: per-link delays, message loss,
partitions that heal, peers that crash and restart from their database. Deterministic for a
given seed, so tests can replay forks, reorganisations and double spends exactly.

The peers are the real :class:`.peer.Peer` objects that run under ``mpiexec``; only time and
the wires are simulated:

* **mining** is a Poisson race: peer i with hash rate h_i finds a block on its current tip after
  an exponential time of mean ``expected_hashes(bits) / h_i``, redrawn whenever its tip changes
  (memorylessness makes that exact). The block is then built and its nonce really searched
  (:func:`.pow.mine`), so every block carries a valid proof of work; with an easy target that
  search is a few hashes, and the race is decided by the clock, as Bitcoin's is by luck;
* **links**: a message from i to j arrives after ``delay + U(0, jitter)`` seconds, is lost with
  probability ``loss``, and is dropped while a :class:`Partition` separates i and j;
* **sync**: every ``sync_every`` seconds each peer asks one random neighbour for what follows
  its branch (:meth:`.peer.Peer.sync`), which heals losses and partitions;
* **crashes**: :meth:`EventNetwork.crash` drops a peer's memory at a time (messages to it are
  lost); :meth:`EventNetwork.restart` builds it again from its SQLite database.

Every delivered message is recorded in ``delivered`` (time, source, destination, message) for
the privacy tests.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import numpy as np

from .pow import expected_hashes, mine

__all__ = ["EventNetwork", "Partition"]


@dataclass(frozen=True)
class Partition:
    """From ``start`` to ``end`` (virtual seconds) only peers in the same group can talk."""

    start: float
    end: float
    groups: tuple

    def separates(self, a: int, b: int, t: float) -> bool:
        if not self.start <= t < self.end:
            return False
        return not any(a in g and b in g for g in self.groups)


@dataclass
class EventNetwork:
    """``peers``: {rank: Peer}. ``hashrates``: {rank: hashes per virtual second} (default: equal,
    so that the whole network finds a block every ``block_time`` seconds)."""

    peers: dict
    seed: int = 0
    delay: float = 0.05
    jitter: float = 0.05
    loss: float = 0.0
    block_time: float = 1.0
    hashrates: dict | None = None
    partitions: list = field(default_factory=list)
    sync_every: float = 2.0
    genesis_time: int = 1_700_000_000
    delivered: list = field(default_factory=list)

    def __post_init__(self):
        if not 0 <= self.loss < 1:
            raise ValueError(f"loss must lie in [0, 1), got {self.loss}")
        if self.delay < 0 or self.jitter < 0 or self.block_time <= 0 or self.sync_every <= 0:
            raise ValueError("delay and jitter must be >= 0, block_time and sync_every > 0")
        self.rng = np.random.default_rng(self.seed)
        self.now = 0.0
        self._queue: list = []
        self._seq = itertools.count()
        self._epoch = dict.fromkeys(self.peers, 0)
        self.down: dict = {}                       # rank -> restart factory while crashed
        self.crashed: dict = {}                    # rank -> the peer object as it was when it crashed
        self.lost = 0
        if self.hashrates is None:
            bits = next(iter(self.peers.values())).params.genesis_bits
            each = expected_hashes(bits) / self.block_time / len(self.peers)
            self.hashrates = dict.fromkeys(self.peers, each)
        for r in self.peers:
            self._schedule_mining(r)
            self._push(self.rng.uniform(0, self.sync_every), "sync", r)

    # -- the queue -------------------------------------------------------------------------------

    def _push(self, t: float, kind: str, *data) -> None:
        heapq.heappush(self._queue, (t, next(self._seq), kind, data))

    def _schedule_mining(self, r: int) -> None:
        self._epoch[r] += 1
        rate = self.hashrates.get(r, 0.0)
        if rate > 0:
            bits = self.peers[r].chain.next_bits()
            self._push(self.now + self.rng.exponential(expected_hashes(bits) / rate), "found", r, self._epoch[r])

    def send(self, source: int, messages) -> None:
        for dest, message in messages:
            if self.rng.random() < self.loss:
                self.lost += 1
                continue
            self._push(self.now + self.delay + self.rng.uniform(0, self.jitter), "deliver", source, dest, message)

    def clock(self) -> int:
        """Block-header time of the current virtual instant."""
        return self.genesis_time + int(self.now)

    # -- faults ----------------------------------------------------------------------------------

    def crash(self, rank: int, at: float, restart_at: float, factory) -> None:
        """Peer ``rank`` loses its memory at ``at``; at ``restart_at`` ``factory()`` builds it again
        (from its database)."""
        self._push(at, "crash", rank, factory)
        self._push(restart_at, "restart", rank)

    # -- running ---------------------------------------------------------------------------------

    def _break_tie(self, height: int) -> None:
        """All peers stopped (each at its target), nothing in flight, tips differ: a tie."""
        live = self.peers
        if (self.down or len({p.chain.tip for p in live.values()}) == 1
                or any(p.chain.height < self.target.get(r, height) for r, p in live.items())
                or any(kind == "deliver" and data[2][0] != "getblocks" for _, _, kind, data in self._queue)):
            return                 # (a sync request in flight cannot change a tip; its answer may)
        best = max(live, key=lambda r: (live[r].chain.work, -r))
        self.target[best] = live[best].chain.height + 1
        self._schedule_mining(best)

    def agreed(self, height: int) -> bool:
        """Every live peer on the same tip at ``height`` or more, and nothing in flight."""
        if self.down:
            return False
        tips = {p.chain.tip for p in self.peers.values()}
        return (len(tips) == 1 and min(p.chain.height for p in self.peers.values()) >= height
                and not any(kind == "deliver" for _, _, kind, _ in self._queue))

    def run(self, *, until_height: int, max_time: float = 2000.0, on_block=None) -> float:
        """Process events until every peer agrees on a tip at ``until_height`` or more, or until
        ``max_time``. A peer stops mining (and keeps relaying) once its tip reaches the target;
        when all have stopped on tips of equal work, the peer with the most work (lowest rank
        first) mines one more block, which breaks the tie as the next block does in Bitcoin.
        ``on_block(network, rank)`` runs after each block a peer mines (to make payments, say).
        Returns the virtual time reached."""
        self.target = {r: until_height for r in self.peers}
        while self._queue and self.now <= max_time and not self.agreed(until_height):
            t, _, kind, data = heapq.heappop(self._queue)
            self.now = max(self.now, t)
            if kind == "deliver":
                source, dest, message = data
                peer = self.peers.get(dest)
                if peer is None or any(p.separates(source, dest, self.now) for p in self.partitions):
                    self.lost += 1
                    continue
                self.delivered.append((self.now, source, dest, message))
                before = peer.chain.tip
                self.send(dest, peer.receive(source, message, now=self.clock()))
                if peer.chain.tip != before:
                    self._schedule_mining(dest)
            elif kind == "found":
                r, epoch = data
                peer = self.peers.get(r)
                if peer is None or epoch != self._epoch[r]:
                    continue                       # the tip changed since: that race was redrawn
                if peer.chain.height >= self.target.get(r, until_height):
                    continue                       # done: relays only
                block = peer.candidate(self.clock())
                header = mine(block.header, start_nonce=int(self.rng.integers(0, 2**31)))
                block = type(block)(header, block.transactions, block.update)
                self.send(r, peer.found(block, now=self.clock()))
                self._schedule_mining(r)
                if on_block is not None:
                    on_block(self, r)
            elif kind == "sync":
                (r,) = data
                peer = self.peers.get(r)
                self._break_tie(until_height)
                if peer is not None and peer.neighbours:
                    self.send(r, peer.sync(int(self.rng.choice(peer.neighbours))))
                self._push(self.now + self.sync_every, "sync", r)
            elif kind == "crash":
                r, factory = data
                self.crashed[r] = self.peers.pop(r)          # its memory, kept only for the tests to compare
                self.down[r] = factory
            elif kind == "restart":
                (r,) = data
                self.peers[r] = self.down.pop(r)()
                self.target.setdefault(r, until_height)
                self._schedule_mining(r)
                self.send(r, self.peers[r].sync(int(self.rng.choice(self.peers[r].neighbours))))
        return self.now
