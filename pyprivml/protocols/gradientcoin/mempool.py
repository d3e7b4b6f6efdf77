"""The mempool: valid transactions waiting for a block (seed 002 §3.3, Algorithm 2 lines 9-12:
"{trans^(j)} are broadcast to user^(i)" and each user adds them to the block it works on;
Bitcoin's CTxMemPool, much simplified).

Rules, kept simple on purpose:

* only transactions whose inputs are all *confirmed* (in the UTXO set) are admitted: no chains of
  unconfirmed transactions, so every subset of the pool is valid together in one block;
* a transaction spending an outpoint that a pool transaction already spends is refused
  (``mempool-conflict``; no replace-by-fee), as is a coinbase (``unexpected-coinbase``) and a
  transaction already in the pool (``already-in-mempool``);
* otherwise it must pass :meth:`.utxo.UTXOSet.check_transaction` for the next block's height.

:meth:`Mempool.select` takes the highest-fee transactions for a block (``select(max_count)`` caps
a count, not a size, so the absolute fee, not the fee rate, maximises the miner's income; ties go
to the earlier arrival). :meth:`Mempool.remove_for_block` drops a connected block's transactions
and those it made invalid (spending a coin the block spent); :meth:`Mempool.readd`, after a
reorganisation, re-admits the disconnected blocks' transactions that are still valid and
re-checks the rest of the pool against the new UTXO set (Bitcoin's MaybeUpdateMempoolForReorg).

Heights: ``add`` and ``readd`` take the height of the block the transactions would go into (the
tip's height + 1); ``remove_for_block`` takes the height of the block just connected.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tx import COINBASE_MATURITY, OutPoint, Transaction
from .utxo import UTXOSet, ValidationError

__all__ = ["Mempool", "MempoolEntry"]


@dataclass(frozen=True)
class MempoolEntry:
    """A pool transaction, its fee and its arrival number (for deterministic tie-breaks)."""

    tx: Transaction
    fee: int
    order: int


class Mempool:
    """Unconfirmed transactions by txid, with the outpoints they spend (to refuse conflicts)."""

    def __init__(self, *, maturity: int = COINBASE_MATURITY):
        self.maturity = maturity
        self.entries: dict[bytes, MempoolEntry] = {}
        self.spent: dict[OutPoint, bytes] = {}          # outpoint -> txid of the pool tx spending it
        self._arrivals = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, txid: bytes) -> bool:
        return txid in self.entries

    def get(self, txid: bytes) -> Transaction | None:
        entry = self.entries.get(txid)
        return None if entry is None else entry.tx

    def fee(self, txid: bytes) -> int:
        return self.entries[txid].fee

    def transactions(self) -> list[Transaction]:
        """The pool in arrival order."""
        return [e.tx for e in sorted(self.entries.values(), key=lambda e: e.order)]

    # -- admission -------------------------------------------------------------------------------

    def add(self, tx: Transaction, utxo: UTXOSet, height: int, *, maturity: int | None = None) -> int:
        """Admit ``tx`` for a block at ``height``; return its fee. Raises ValidationError (the pool
        unchanged) for a coinbase, a duplicate, a conflict with the pool, an unconfirmed input, or
        any rule of :meth:`.utxo.UTXOSet.check_transaction`."""
        txid = tx.txid()
        what = f"transaction {txid.hex()[:16]}"
        if tx.is_coinbase:
            raise ValidationError("unexpected-coinbase", f"{what} is a coinbase; coinbases exist only in blocks, "
                                  f"never in the mempool")
        if txid in self.entries:
            raise ValidationError("already-in-mempool", f"{what} is already in the mempool")
        for i, txin in enumerate(tx.inputs):
            other = self.spent.get(txin.outpoint)
            if other is not None:
                raise ValidationError("mempool-conflict", f"{what}: input {i} spends {txin.outpoint!r}, which mempool "
                                      f"transaction {other.hex()[:16]} already spends; only one spend of a coin is "
                                      f"admitted (no replacement)")
        try:
            fee = utxo.check_transaction(tx, height, maturity=self.maturity if maturity is None else maturity)
        except ValidationError as exc:
            if exc.reason == "missing-input":
                parents = [t.hex()[:16] for t in {i.outpoint.txid for i in tx.inputs} if t in self.entries]
                if parents:
                    raise ValidationError("missing-input", f"{exc.message}; it spends an output of unconfirmed "
                                          f"mempool transaction(s) {', '.join(sorted(parents))}, and this mempool "
                                          f"admits only transactions whose inputs are confirmed") from None
            raise
        self.entries[txid] = MempoolEntry(tx, fee, self._arrivals)
        self._arrivals += 1
        for txin in tx.inputs:
            self.spent[txin.outpoint] = txid
        return fee

    def remove(self, txid: bytes) -> Transaction | None:
        """Drop one transaction (no-op if absent); return it."""
        entry = self.entries.pop(txid, None)
        if entry is None:
            return None
        for txin in entry.tx.inputs:
            if self.spent.get(txin.outpoint) == txid:
                del self.spent[txin.outpoint]
        return entry.tx

    # -- building blocks ---------------------------------------------------------------------------

    def select(self, max_count: int) -> list[Transaction]:
        """Up to ``max_count`` transactions, highest fee first (ties: earlier arrival first). All
        inputs are confirmed and no two conflict, so they are valid together in the next block."""
        if isinstance(max_count, bool) or not isinstance(max_count, int) or max_count < 0:
            raise ValueError(f"max_count must be a non-negative int, got {max_count!r}")
        ranked = sorted(self.entries.values(), key=lambda e: (-e.fee, e.order))
        return [e.tx for e in ranked[:max_count]]

    def remove_for_block(self, txs, utxo: UTXOSet, height: int) -> list[Transaction]:
        """After the block at ``height`` (transactions ``txs``) was connected, making ``utxo``: drop
        its transactions and every pool transaction it made invalid, i.e. one spending a coin
        that the block spent (a conflicting spend). Returns the transactions dropped as invalid
        (not those confirmed). A block cannot otherwise invalidate a pool transaction: coins
        only mature as height grows, and the pool holds no spends of unconfirmed outputs."""
        for tx in txs:
            self.remove(tx.txid())
        dropped = []
        for entry in sorted(self.entries.values(), key=lambda e: e.order):
            if any(txin.outpoint not in utxo for txin in entry.tx.inputs):
                dropped.append(self.remove(entry.tx.txid()))
        return dropped

    def readd(self, txs, utxo: UTXOSet, height: int, *, maturity: int | None = None) -> list[Transaction]:
        """After a reorganisation: re-admit the transactions of the disconnected blocks
        (``txs``, in block order; coinbases are skipped) that are valid against the new ``utxo``
        for a block at ``height``, and re-check the transactions already in the pool, dropping
        those the reorganisation invalidated (an input that was an output of a disconnected
        block, an immature coinbase spend at the lower height, a conflict with a re-admitted
        transaction). Disconnected transactions go first: they were confirmed once. Returns the
        re-admitted transactions of ``txs``."""
        previous = self.transactions()
        self.entries.clear()
        self.spent.clear()
        self._arrivals = 0
        readded = []
        for tx in txs:
            if tx.is_coinbase:
                continue
            try:
                self.add(tx, utxo, height, maturity=maturity)
            except ValidationError:
                continue
            readded.append(tx)
        for tx in previous:
            try:
                self.add(tx, utxo, height, maturity=maturity)
            except ValidationError:
                continue
        return readded
