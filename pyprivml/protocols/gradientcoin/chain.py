"""The gradient chain: blocks, validation, fork choice, orphans and reorganisation (seed 002 §3-§4,
Definitions 4-5, Algorithm 6; Bitcoin's rules of appendix B).

A block is a header (:class:`.pow.BlockHeader`), its transactions (the coinbase first) and the
model update Δx it publishes (:class:`.payload.ModelUpdate`); the header commits to both, by the
Merkle root of the transaction ids and by the payload's hash. A node keeps every valid header it
has seen in a block index, follows the branch with the most cumulative work (ties: the branch
seen first), and keeps on its active branch the UTXO set and the model state

    x_t = x_0 + Σ_{s ≤ t} desk_s(Δx̃_s)                   (Definition 5, eq. 20)

with, for every connected block, the undo data that restores both exactly when a reorganisation
disconnects it. Blocks whose parent is unknown wait in an orphan pool and connect when it
arrives.

Validation, in the order a node applies it (every failure is a :class:`ValidationError` with a
reason code, and the node's state is unchanged):

1. header: proof of work (the hash below the target its bits encode), bits equal to what the
   retarget rule gives for its height, time above the median of the last 11 blocks and not more
   than ``max_future`` seconds ahead of the node's clock;
2. body: the Merkle root of the transaction ids, the payload hash, the payload's consensus rules
   (finite, the genesis norm bound, the sketch seed derived from the previous block's hash);
3. coins, when the block is connected: every transaction against the UTXO set, the coinbase at
   most the reward plus the fees, coinbase maturity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import merkle, payload, pow as proof
from .tx import Transaction, make_coinbase
from .utxo import UTXOSet, ValidationError

__all__ = ["ChainParams", "Block", "Chain", "genesis_block", "build_block", "ValidationError"]

ZERO_HASH = bytes(32)


@dataclass(frozen=True)
class ChainParams:
    """What the genesis block fixes for everyone: the payload rules, the initial model x₀, the
    proof-of-work parameters, the block reward and the coinbase maturity."""

    rules: object                         # payload.ConsensusRules
    x0: np.ndarray
    genesis_bits: int
    pow_limit_bits: int
    retarget_interval: int = 16
    target_spacing: int = 10
    reward: int = 50 * 10**8
    maturity: int = 10
    max_future: int = 2 * 3600
    genesis_time: int = 1_700_000_000


@dataclass(frozen=True)
class Block:
    """A gradient block (Definition 4): header, transactions (coinbase first), model update."""

    header: object                        # pow.BlockHeader
    transactions: tuple
    update: object                        # payload.ModelUpdate

    def hash(self) -> bytes:
        return self.header.hash()

    def merkle_root(self) -> bytes:
        return merkle.merkle_root([tx.txid() for tx in self.transactions])


@dataclass
class _Entry:
    """One header of the block index: its height, the cumulative work up to it, and its parent."""

    header: object
    height: int
    work: int
    parent: bytes
    order: int                            # when it was first seen (ties go to the earlier)


@dataclass
class _Undo:
    coins: object                         # utxo.BlockUndo
    model: np.ndarray                     # x before the block: restored exactly, not recomputed


def genesis_block(params: ChainParams) -> Block:
    """The block every node starts from: no transactions to validate, the zero update, mined."""
    d = len(params.x0)
    update = payload.ModelUpdate.plain(np.zeros(d))
    header = proof.BlockHeader(version=1, prev_hash=ZERO_HASH, merkle_root=merkle.merkle_root([ZERO_HASH]),
                               payload_hash=update.hash(), time=params.genesis_time, bits=params.genesis_bits,
                               nonce=0)
    return Block(proof.mine(header), (), update)


def build_block(chain: "Chain", miner_pubkey: bytes, update, transactions=(), *, time: int) -> Block:
    """A candidate block on ``chain``'s tip (unmined: nonce 0): the coinbase paying the reward plus
    the fees to the miner, then ``transactions``, then the update (Algorithm 6)."""
    height = chain.height + 1
    fees = sum(chain.utxo.check_transaction(tx, height, maturity=chain.params.maturity) for tx in transactions)
    coinbase = make_coinbase(miner_pubkey, height, chain.params.reward, fees)
    txs = (coinbase, *transactions)
    header = proof.BlockHeader(version=1, prev_hash=chain.tip, merkle_root=merkle.merkle_root([t.txid() for t in txs]),
                               payload_hash=update.hash(), time=int(time), bits=chain.next_bits(), nonce=0)
    return Block(header, txs, update)


class Chain:
    """A node's view of the chain: the block index, the active branch, its UTXO set and model."""

    def __init__(self, params: ChainParams, genesis: Block | None = None):
        self.params = params
        genesis = genesis or genesis_block(params)
        g = genesis.hash()
        self.genesis_hash = g
        self.index: dict[bytes, _Entry] = {g: _Entry(genesis.header, 0, proof.block_work(genesis.header.bits),
                                                      ZERO_HASH, 0)}
        self.blocks: dict[bytes, Block] = {g: genesis}
        self.active: list[bytes] = [g]
        self.utxo = UTXOSet()
        self.x = np.array(params.x0, dtype=np.float64)
        self.undo: dict[bytes, _Undo] = {}
        self.orphans: dict[bytes, list[Block]] = {}
        self.invalid: set[bytes] = set()
        self.mempool = None               # a mempool.Mempool, if the node keeps one
        self.reorganisations: list[tuple[int, int]] = []   # (fork height, blocks disconnected)
        self._seen = 1

    # -- the active branch ---------------------------------------------------------------------

    @property
    def tip(self) -> bytes:
        return self.active[-1]

    @property
    def height(self) -> int:
        return len(self.active) - 1

    @property
    def work(self) -> int:
        return self.index[self.tip].work

    def model(self) -> np.ndarray:
        """x_t of the active branch (a copy)."""
        return self.x.copy()

    def models(self):
        """(height, x_height) along the active branch, from the undo data (each connected block
        keeps the model before it), so nothing is de-sketched or re-added."""
        for height in range(1, self.height + 1):
            yield height - 1, self.undo[self.active[height]].model.copy()
        yield self.height, self.x.copy()

    def block_at(self, height: int) -> Block:
        return self.blocks[self.active[height]]

    # -- the rules -----------------------------------------------------------------------------

    def _ancestor_times(self, parent: bytes, count: int = 11) -> list[int]:
        times, h = [], parent
        while h != ZERO_HASH and len(times) < count:
            e = self.index[h]
            times.append(e.header.time)
            h = e.parent
        return times[::-1]

    def _ancestor(self, h: bytes, height: int) -> _Entry:
        e = self.index[h]
        while e.height > height:
            e = self.index[e.parent]
        return e

    def next_bits(self, parent: bytes | None = None) -> int:
        """The bits a child of ``parent`` (default: the tip) must carry: unchanged inside a retarget
        interval, retargeted from the interval's time span at its boundary."""
        p = self.index[self.tip if parent is None else parent]
        R = self.params.retarget_interval
        if (p.height + 1) % R != 0:
            return p.header.bits
        first = self._ancestor(self.tip if parent is None else parent, p.height + 1 - R)
        return proof.next_bits(p.header.bits, first.header.time, p.header.time, interval=R,
                               target_spacing=self.params.target_spacing,
                               pow_limit_bits=self.params.pow_limit_bits)

    def check_header(self, header, now: int | None = None) -> None:
        """Rule 1: proof of work, bits for the height, time (needs the parent in the index)."""
        if not header.meets_target():
            raise ValidationError("bad-proof-of-work", f"block {header.hash_hex()[:16]} does not meet the "
                                  f"target of its bits {header.bits:#010x}")
        expected = self.next_bits(header.prev_hash)
        if header.bits != expected:
            raise ValidationError("bad-bits", f"block bits {header.bits:#010x}, but the retarget rule gives "
                                  f"{expected:#010x} at height {self.index[header.prev_hash].height + 1}")
        try:
            proof.check_block_time(header.time, self._ancestor_times(header.prev_hash),
                                   now if now is not None else header.time, max_future=self.params.max_future)
        except ValueError as exc:
            raise ValidationError("bad-time", str(exc)) from None

    def check_body(self, block: Block) -> None:
        """Rule 2: the header commits to these transactions and this payload, which obeys the rules."""
        if not block.transactions:
            raise ValidationError("no-coinbase", "a block must start with its coinbase transaction")
        if block.merkle_root() != block.header.merkle_root:
            raise ValidationError("bad-merkle-root", "the transactions do not match the header's Merkle root")
        if block.update.hash() != block.header.payload_hash:
            raise ValidationError("bad-payload-hash", "the model update does not match the header's payload hash")
        try:
            self.params.rules.check(block.update, block.header.prev_hash)
        except ValueError as exc:
            raise ValidationError("bad-payload", str(exc)) from None

    # -- accepting blocks ----------------------------------------------------------------------

    def submit(self, block: Block, now: int | None = None) -> str:
        """Accept a block: ``"connected"`` (the active branch grew or reorganised to it), ``"side"``
        (valid, on a branch with no more work), ``"orphan"`` (parent unknown), ``"duplicate"``.
        Raises :class:`ValidationError` for an invalid block; the node's state is then unchanged."""
        h = block.hash()
        if h in self.index or h in self.invalid:
            return "duplicate"
        parent = block.header.prev_hash
        if parent in self.invalid:
            self.invalid.add(h)
            raise ValidationError("bad-parent", "the block extends an invalid block")
        if parent not in self.index:
            self.orphans.setdefault(parent, []).append(block)
            return "orphan"
        self.check_header(block.header, now)
        self.check_body(block)
        p = self.index[parent]
        self.index[h] = _Entry(block.header, p.height + 1, p.work + proof.block_work(block.header.bits), parent,
                               self._seen)
        self._seen += 1
        self.blocks[h] = block
        status = "side"
        if self.index[h].work > self.work:   # strictly more work: ties stay with the branch seen first
            self._reorganise_to(h)
            status = "connected" if self.tip == h else "side"
        for child in self.orphans.pop(h, []):
            try:
                if self.submit(child, now) == "connected":
                    status = "connected"
            except ValidationError:
                pass   # an invalid orphan is dropped; its parent stays
        return status

    def _branch(self, h: bytes) -> list[bytes]:
        """The hashes from the fork point with the active branch (exclusive) up to ``h``."""
        out = []
        while not self._on_active(h):
            out.append(h)
            h = self.index[h].parent
        return out[::-1]

    def _on_active(self, h: bytes) -> bool:
        height = self.index[h].height
        return height < len(self.active) and self.active[height] == h

    def _connect(self, h: bytes) -> None:
        block, height = self.blocks[h], self.index[h].height
        coins = self.utxo.apply_block(list(block.transactions), height, reward=self.params.reward,
                                      maturity=self.params.maturity)
        previous = self.x.copy()
        self.x = self.x + payload.desketched(block.update, block.header.prev_hash)
        self.undo[h] = _Undo(coins, previous)
        self.active.append(h)
        if self.mempool is not None:
            self.mempool.remove_for_block(list(block.transactions), self.utxo, height)

    def _disconnect(self) -> Block:
        h = self.active.pop()
        undo = self.undo.pop(h)
        self.utxo.undo_block(undo.coins)
        self.x = undo.model
        return self.blocks[h]

    def _reorganise_to(self, new_tip: bytes) -> None:
        """Disconnect back to the fork point, connect the new branch; if a block of it is invalid,
        mark it (and what builds on it) invalid and return to the best valid branch."""
        branch = self._branch(new_tip)
        fork_height = self.index[branch[0]].height - 1
        disconnected = []
        while self.height > fork_height:
            disconnected.append(self._disconnect())
        connected = 0
        try:
            for h in branch:
                self._connect(h)
                connected += 1
        except ValidationError:
            bad = branch[connected]
            self.invalid.add(bad)
            for h in branch[connected:]:
                self.invalid.add(h)
                self.index.pop(h, None)
            while self.height > fork_height:   # back to the old branch, which was valid
                self._disconnect()
            for block in reversed(disconnected):
                self._connect(block.hash())
            raise
        if disconnected:
            self.reorganisations.append((fork_height, len(disconnected)))
            if self.mempool is not None:
                txs = [tx for block in reversed(disconnected) for tx in block.transactions[1:]]
                self.mempool.readd(txs, self.utxo, self.height + 1)

    # -- for peers -----------------------------------------------------------------------------

    def locator(self) -> list[bytes]:
        """Hashes of the active branch, dense near the tip and sparse further back (Bitcoin's
        block locator), so a peer can find the fork point."""
        out, step, i = [], 1, self.height
        while i > 0:
            out.append(self.active[i])
            if len(out) >= 10:
                step *= 2
            i -= step
        out.append(self.genesis_hash)
        return out

    def blocks_after(self, locator: list[bytes], limit: int = 500) -> list[Block]:
        """The active branch's blocks after the first locator hash it contains."""
        positions = {h: i for i, h in enumerate(self.active)}
        start = next((positions[h] for h in locator if h in positions), 0)
        return [self.blocks[h] for h in self.active[start + 1: start + 1 + limit]]
