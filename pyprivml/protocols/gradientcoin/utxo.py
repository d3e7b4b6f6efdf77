"""The UTXO set: which coins exist, the rules a transaction must meet to spend them, and the
undo data that lets a reorganisation disconnect a block exactly (seed 002 §3.3 and Algorithm 2,
line 19: a block is accepted only "if {trans^(j)} are valid and not already spent"; Definition 2;
Bitcoin's CheckTransaction / CheckTxInputs / ConnectBlock / DisconnectBlock).

:class:`UTXOSet` maps each unspent :class:`.tx.OutPoint` to a :class:`Coin` (its
:class:`.tx.TxOut`, the height of the block that created it, whether it came from a coinbase).
Spending a coin removes it, so "already spent" is "not in the set" (Bitcoin reports both as
``bad-txns-inputs-missingorspent``; here ``missing-input``).

The rules, in the order they are checked (each failure is a :class:`ValidationError` whose
``reason`` is the code given; the cheap, structural rules come first, signatures last):

==========================  =====================================================================
``unexpected-coinbase``     a coinbase anywhere but first in a block (or given to the mempool)
``no-inputs``               an ordinary transaction must spend at least one coin
``no-outputs``              every transaction must create at least one output
``value-out-of-range``      each output, and the sum of outputs (and of inputs), in [0, MAX_MONEY]
``duplicate-input``         one outpoint named twice in one transaction (CVE-2018-17144)
``missing-input``           the coin is not in the set: never created, or already spent
``immature-coinbase``       a coinbase output created at height h spent below h + maturity
``outputs-exceed-inputs``   the outputs pay more than the inputs hold (the fee would be negative)
``bad-signature``           input i's signature is not the coin owner's Ed25519 signature of
                            ``tx.digest()``
``double-spend``            a second transaction of the same block spends a coin already spent
                            by an earlier one
``no-coinbase``             a block's first transaction must be its coinbase
``bad-coinbase``            a coinbase has inputs
``bad-coinbase-height``     the coinbase's height is not the block's (BIP 34)
``bad-coinbase-amount``     the coinbase pays more than the reward plus the block's fees
``duplicate-txid``          a transaction would create an output that already exists (BIP 30)
==========================  =====================================================================

Coinbase maturity follows Bitcoin: a coinbase output created at height h may be spent by a
transaction in a block at height H only if H − h >= maturity, so at h + maturity − 1 it is
refused and at h + maturity accepted. ``maturity`` is a keyword of every validating method
(default :data:`.tx.COINBASE_MATURITY`), so each chain passes its own.

:meth:`UTXOSet.apply_block` is atomic: it works on an overlay of the coins it touches and writes
them to the set only when every transaction passed, so on any error the set is unchanged. It
returns a :class:`BlockUndo` (every coin spent, every outpoint created, per transaction) with
which :meth:`UTXOSet.undo_block` restores the previous set exactly. :meth:`UTXOSet.snapshot` is a
canonical encoding of the set and :meth:`UTXOSet.digest` its sha256d, so peers can compare sets.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import NamedTuple

from .tx import COINBASE_MATURITY, MAX_MONEY, OutPoint, Transaction, TxOut, verify_signature

__all__ = ["ValidationError", "Coin", "Undo", "BlockUndo", "UTXOSet"]

SNAPSHOT_MAGIC = b"GCUS"
_ABSENT = object()


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _units(value: int) -> str:
    return f"{value} units ({value / 10**8:.8f} coins)"


class ValidationError(ValueError):
    """A transaction or block breaks a consensus rule. ``reason`` is a short code (see the module
    docstring's table); the message says what is wrong and what would be valid."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"ValidationError({self.reason!r}, {self.message!r})"


class Coin(NamedTuple):
    """An unspent output, the height of the block that created it, and whether a coinbase did."""

    txout: TxOut
    height: int
    is_coinbase: bool


@dataclass(frozen=True)
class Undo:
    """What one transaction changed: the coins it spent (to restore) and the outpoints it created
    (to delete)."""

    txid: bytes
    spent: tuple          # ((OutPoint, Coin), ...)
    created: tuple        # (OutPoint, ...)


@dataclass(frozen=True)
class BlockUndo:
    """The :class:`Undo` of every transaction of a block, in block order, and the block's height."""

    height: int
    transactions: tuple   # (Undo, ...)


class _Overlay:
    """Pending changes over a coin dict: reads see the changes, the dict is written on commit."""

    def __init__(self, base: dict):
        self.base = base
        self.changes: dict = {}

    def get(self, outpoint):
        value = self.changes.get(outpoint, _ABSENT)
        if value is _ABSENT:
            return self.base.get(outpoint)
        return value            # a Coin, or None for a coin removed in this overlay

    def put(self, outpoint, coin) -> None:
        self.changes[outpoint] = coin

    def remove(self, outpoint) -> None:
        self.changes[outpoint] = None

    def commit(self) -> None:
        for outpoint, coin in self.changes.items():
            if coin is None:
                self.base.pop(outpoint, None)
            else:
                self.base[outpoint] = coin


def _check_outputs(tx: Transaction, what: str) -> int:
    if not tx.outputs:
        raise ValidationError("no-outputs", f"{what} has no outputs; every transaction must create at least one")
    total = 0
    for i, out in enumerate(tx.outputs):
        if not 0 <= out.value <= MAX_MONEY:
            raise ValidationError("value-out-of-range", f"{what}: output {i} has value {out.value}; each output "
                                  f"must be between 0 and MAX_MONEY = {MAX_MONEY}")
        total += out.value
        if total > MAX_MONEY:
            raise ValidationError("value-out-of-range", f"{what}: the outputs sum to more than MAX_MONEY = "
                                  f"{MAX_MONEY} (at output {i}: {total}); the total must be at most MAX_MONEY")
    return total


def _check_coinbase_structure(tx: Transaction, height: int) -> int:
    what = f"coinbase {tx.txid().hex()[:16]}"
    if tx.inputs:
        raise ValidationError("bad-coinbase", f"{what} has {len(tx.inputs)} inputs; a coinbase spends no coins "
                              f"and must have none")
    if tx.coinbase_height != height:
        raise ValidationError("bad-coinbase-height", f"{what} is for height {tx.coinbase_height}, but the block is "
                              f"at height {height}; the coinbase must carry its block's height (BIP 34)")
    return _check_outputs(tx, what)


class UTXOSet:
    """The unspent outputs of a chain: OutPoint -> :class:`Coin` (TxOut, height, is_coinbase)."""

    def __init__(self, coins: dict | None = None):
        self.coins: dict[OutPoint, Coin] = {}
        for outpoint, coin in (coins or {}).items():
            self.coins[outpoint] = Coin(*coin)

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.coins)

    def __contains__(self, outpoint) -> bool:
        return outpoint in self.coins

    def __iter__(self):
        return iter(self.coins)

    def __eq__(self, other) -> bool:
        return isinstance(other, UTXOSet) and self.coins == other.coins

    __hash__ = None

    def get(self, outpoint: OutPoint) -> Coin | None:
        return self.coins.get(outpoint)

    def items(self):
        return self.coins.items()

    def copy(self) -> "UTXOSet":
        out = UTXOSet()
        out.coins = dict(self.coins)     # Coins are immutable: a shallow copy is independent
        return out

    def balance(self, pubkey: bytes) -> int:
        """The total value of the coins paying ``pubkey`` (immature coinbase outputs included)."""
        return sum(c.txout.value for c in self.coins.values() if c.txout.pubkey == pubkey)

    def spendable(self, pubkey: bytes, height: int, *, maturity: int = COINBASE_MATURITY) -> list:
        """The (OutPoint, TxOut) coins of ``pubkey`` that a transaction in the block at ``height``
        may spend (mature coinbase outputs only), sorted by outpoint: input for
        :func:`.tx.make_payment`."""
        return [(op, c.txout) for op, c in sorted(self.coins.items(), key=lambda kv: (kv[0].txid, kv[0].index))
                if c.txout.pubkey == pubkey and not (c.is_coinbase and height - c.height < maturity)]

    # -- the rules ------------------------------------------------------------------------------

    def check_transaction(self, tx: Transaction, height: int, *, maturity: int = COINBASE_MATURITY) -> int:
        """Validate an ordinary transaction for a block at ``height`` against this set; return its
        fee (inputs − outputs). Raises :class:`ValidationError`; the set is never changed."""
        return self._check(tx, height, maturity, self.coins.get)

    def _check(self, tx: Transaction, height: int, maturity: int, lookup) -> int:
        what = f"transaction {tx.txid().hex()[:16]}"
        if tx.is_coinbase:
            raise ValidationError("unexpected-coinbase", f"{what} is a coinbase; a coinbase is valid only as the "
                                  f"first transaction of a block, paying the reward plus the fees")
        if not tx.inputs:
            raise ValidationError("no-inputs", f"{what} spends no coins; an ordinary transaction needs at least one "
                                  f"input (only a coinbase creates coins from nothing)")
        total_out = _check_outputs(tx, what)
        seen = set()
        for i, txin in enumerate(tx.inputs):
            if txin.outpoint in seen:
                raise ValidationError("duplicate-input", f"{what}: input {i} spends {txin.outpoint!r}, which an "
                                      f"earlier input already spends; each coin may appear once")
            seen.add(txin.outpoint)
        coins = []
        for i, txin in enumerate(tx.inputs):
            coin = lookup(txin.outpoint)
            if coin is None:
                raise ValidationError("missing-input", f"{what}: input {i} spends {txin.outpoint!r}, which is not "
                                      f"in the UTXO set (never created, or already spent); inputs must name "
                                      f"unspent outputs")
            if coin.is_coinbase and height - coin.height < maturity:
                raise ValidationError("immature-coinbase", f"{what}: input {i} spends a coinbase output of height "
                                      f"{coin.height} in a block at height {height}; it is spendable from height "
                                      f"{coin.height + maturity} (maturity {maturity})")
            coins.append(coin)
        total_in = sum(c.txout.value for c in coins)
        if total_in > MAX_MONEY:
            raise ValidationError("value-out-of-range", f"{what}: the inputs sum to {total_in}, above MAX_MONEY = "
                                  f"{MAX_MONEY}")
        if total_out > total_in:
            raise ValidationError("outputs-exceed-inputs", f"{what}: the outputs pay {_units(total_out)} but the "
                                  f"inputs hold {_units(total_in)}; outputs plus fee must equal the inputs, so the "
                                  f"outputs may pay at most {total_in}")
        message = tx.digest()
        for i, (txin, coin) in enumerate(zip(tx.inputs, coins)):
            if not verify_signature(coin.txout.pubkey, txin.signature, message):
                raise ValidationError("bad-signature", f"{what}: input {i}'s signature is not a valid Ed25519 "
                                      f"signature by key {coin.txout.pubkey.hex()[:16]}… (the owner of "
                                      f"{txin.outpoint!r}) of the transaction's digest {message.hex()[:16]}…")
        return total_in - total_out

    # -- changing the set ------------------------------------------------------------------------

    @staticmethod
    def _spend_and_create(view: _Overlay, tx: Transaction, height: int) -> Undo:
        txid = tx.txid()
        created = tuple(OutPoint(txid, i) for i in range(len(tx.outputs)))
        for op in created:
            if view.get(op) is not None:
                raise ValidationError("duplicate-txid", f"transaction {txid.hex()[:16]} would create {op!r}, which "
                                      f"already exists unspent; a transaction id may not repeat (BIP 30)")
        spent = []
        for txin in tx.inputs:
            spent.append((txin.outpoint, view.get(txin.outpoint)))
            view.remove(txin.outpoint)
        for op, out in zip(created, tx.outputs):
            view.put(op, Coin(out, height, tx.is_coinbase))
        return Undo(txid, tuple(spent), created)

    def apply_transaction(self, tx: Transaction, height: int, *, maturity: int = COINBASE_MATURITY) -> Undo:
        """Validate ``tx`` at ``height`` and apply it; return its :class:`Undo`.

        An ordinary transaction gets every check of :meth:`check_transaction`. A coinbase gets
        the structural ones (no inputs, its height, output values) but not the amount, which
        only a block's reward and fees bound: use :meth:`apply_block` for blocks; applying a lone
        coinbase is for setting up a chain's initial coins."""
        view = _Overlay(self.coins)
        if tx.is_coinbase:
            _check_coinbase_structure(tx, height)
        else:
            self._check(tx, height, maturity, view.get)
        undo = self._spend_and_create(view, tx, height)
        view.commit()
        return undo

    def apply_block(self, txs, height: int, *, reward: int, maturity: int = COINBASE_MATURITY) -> BlockUndo:
        """Validate and apply a block's transactions (coinbase first) at ``height``; return the
        :class:`BlockUndo`. Later transactions may spend outputs of earlier ones of the block
        (subject to maturity); two transactions spending one coin are a ``double-spend``. The
        coinbase may pay at most ``reward`` plus the sum of the other transactions' fees. Atomic:
        on a :class:`ValidationError` the set is unchanged."""
        txs = list(txs)
        if not txs or not txs[0].is_coinbase:
            raise ValidationError("no-coinbase", f"the block at height {height} must start with its coinbase "
                                  f"(no inputs, coinbase_height {height}); "
                                  + ("it has no transactions" if not txs else "its first transaction spends coins"))
        if isinstance(reward, bool) or not isinstance(reward, int) or not 0 <= reward <= MAX_MONEY:
            raise ValueError(f"reward must be an int in [0, MAX_MONEY], got {reward!r}")
        coinbase = txs[0]
        coinbase_total = _check_coinbase_structure(coinbase, height)
        view = _Overlay(self.coins)
        undos = [self._spend_and_create(view, coinbase, height)]
        spent_by: dict[OutPoint, bytes] = {}
        fees = 0
        for position, tx in enumerate(txs[1:], start=1):
            if tx.is_coinbase:
                raise ValidationError("unexpected-coinbase", f"transaction {position} of the block at height {height} "
                                      f"is a second coinbase; a block has exactly one, first")
            for i, txin in enumerate(tx.inputs):
                earlier = spent_by.get(txin.outpoint)
                if earlier is not None:
                    raise ValidationError("double-spend", f"transaction {position} ({tx.txid().hex()[:16]}) input {i} "
                                          f"spends {txin.outpoint!r}, already spent in this block by "
                                          f"{earlier.hex()[:16]}; a coin may be spent once")
            fees += self._check(tx, height, maturity, view.get)
            for txin in tx.inputs:
                spent_by[txin.outpoint] = tx.txid()
            undos.append(self._spend_and_create(view, tx, height))
        if coinbase_total > reward + fees:
            raise ValidationError("bad-coinbase-amount", f"the coinbase at height {height} pays {_units(coinbase_total)}"
                                  f"; it may pay at most the reward {reward} plus the block's fees {fees} = "
                                  f"{reward + fees}")
        view.commit()
        return BlockUndo(height, tuple(undos))

    def undo_transaction(self, undo: Undo) -> None:
        """Reverse one :meth:`apply_transaction` (it must be the last change to its coins)."""
        self.undo_block(BlockUndo(-1, (undo,)))

    def undo_block(self, undo: BlockUndo) -> None:
        """Restore the set as it was before the block whose :class:`BlockUndo` this is: delete the
        outputs its transactions created, restore the coins they spent, last transaction first.
        ValueError, with the set unchanged, if the set is not the one that block left (blocks
        must be undone in reverse order of application)."""
        view = _Overlay(self.coins)
        for tx_undo in reversed(undo.transactions):
            for op in tx_undo.created:
                if view.get(op) is None:
                    raise ValueError(f"cannot undo transaction {tx_undo.txid.hex()[:16]}: its output {op!r} is not in "
                                     f"the set; undo blocks in the reverse order they were applied")
                view.remove(op)
            for op, coin in reversed(tx_undo.spent):
                if view.get(op) is not None:
                    raise ValueError(f"cannot undo transaction {tx_undo.txid.hex()[:16]}: the coin it spent, {op!r}, "
                                     f"is already in the set")
                view.put(op, coin)
        view.commit()

    # -- comparing sets between peers ---------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Canonical encoding: b"GCUS", u64 count, then per coin in (txid, index) order: txid (32),
        index (u32), value (i64), pubkey (32), height (u64), is_coinbase (u8). Equal sets give
        equal bytes whatever order their coins were added in."""
        parts = [SNAPSHOT_MAGIC, struct.pack("<Q", len(self.coins))]
        for op in sorted(self.coins, key=lambda o: (o.txid, o.index)):
            c = self.coins[op]
            parts.append(op.serialize() + c.txout.serialize() + struct.pack("<QB", c.height, int(c.is_coinbase)))
        return b"".join(parts)

    def digest(self) -> bytes:
        """sha256d(snapshot()): one hash peers can compare."""
        return _sha256d(self.snapshot())

    @classmethod
    def from_snapshot(cls, data: bytes) -> "UTXOSet":
        """Parse :meth:`snapshot`; ValueError unless the bytes are exactly a canonical snapshot."""
        data = bytes(data)
        record = 32 + 4 + 8 + 32 + 8 + 1
        if data[:4] != SNAPSHOT_MAGIC or len(data) < 12:
            raise ValueError(f"not a UTXO snapshot: it starts with {SNAPSHOT_MAGIC!r} and a u64 count")
        (count,) = struct.unpack("<Q", data[4:12])
        if len(data) != 12 + count * record:
            raise ValueError(f"a snapshot of {count} coins is {12 + count * record} bytes, got {len(data)}")
        out, previous = cls(), None
        for k in range(count):
            r = data[12 + k * record: 12 + (k + 1) * record]
            op = OutPoint(r[:32], struct.unpack("<I", r[32:36])[0])
            value = struct.unpack("<q", r[36:44])[0]
            height, flag = struct.unpack("<QB", r[76:85])
            if flag not in (0, 1):
                raise ValueError(f"coin {k}: is_coinbase must be 0 or 1, got {flag}")
            key = (op.txid, op.index)
            if previous is not None and key <= previous:
                raise ValueError(f"coin {k} is out of order or repeated; a snapshot lists coins sorted by outpoint")
            previous = key
            out.coins[op] = Coin(TxOut(value, r[44:76]), height, bool(flag))
        return out

    def __repr__(self) -> str:
        return f"UTXOSet({len(self.coins)} coins, digest {self.digest().hex()[:16]}…)"
