"""GradientCoin transactions: Ed25519 keys, pay-to-public-key outputs, coinbases (seed 002 §3.1,
Definitions 1-2; §3.3 and Algorithm 2, "Creating Transaction"; Bitcoin's rules, appendix B.3).

Definition 2 makes a gradient coin "a chain of digital signatures: each owner digitally signs a
hash of the previous transaction, along with the public key of the next owner". Here, as in
Bitcoin, a coin is an unspent transaction output :class:`TxOut` (a value and the 32-byte Ed25519
public key it pays), named by an :class:`OutPoint` (the id of the transaction that created it and
the output's index). A :class:`Transaction` spends coins (its :class:`TxIn`\\ s name them and carry
the owners' signatures) and creates new ones. Every input signs :meth:`Transaction.digest`: the
hash of the whole transaction *without* its signatures, i.e. every outpoint spent (the hash of
the previous transaction, Definition 2) and every output (the public key of the next owner and
the amount), plus the memo; so one signature commits to the payment and the change, and no one
can redirect or resize an output after signing (Bitcoin's SIGHASH_ALL).

Coins enter circulation through the *coinbase* (Lemma 33: "coins are initially distributed ...
when a block is created" and "obtained from transaction fees"): the first transaction of a
block, with no inputs, paying the miner at most the block reward plus the block's fees. A
coinbase carries the height of its block (``coinbase_height``), so coinbases of different
heights have different txids even when they pay the same key the same amount (BIP 34; without
it two such coinbases would share a txid and one would overwrite the other, BIP 30).

Amounts are integers in base units, ``COIN = 10**8`` units to a coin, each output and every sum
at most ``MAX_MONEY`` (Bitcoin's ``MoneyRange``). A coinbase output becomes spendable only
``maturity`` blocks after the block that created it (Bitcoin's COINBASE_MATURITY, 100 there,
:data:`COINBASE_MATURITY` = 10 by default here); the value is a parameter of validation
(:meth:`.utxo.UTXOSet.check_transaction`), set per chain, never a global to mutate.

Wire format (little-endian, fixed-width integers, so every transaction has exactly one
encoding; :meth:`Transaction.from_bytes` refuses anything else, trailing bytes included)::

    field            size        notes
    magic            4           b"GCTX" (b"GCTU" in the unsigned encoding that digest() hashes)
    version          1           1
    kind             1           0 ordinary, 1 coinbase
    coinbase_height  8 (u64)     only when kind = 1
    n_inputs         4 (u32)
      txid           32          per input: the outpoint spent ...
      index          4 (u32)
      sig_len        4 (u32)     ... and its signature (absent from the unsigned encoding)
      signature      sig_len
    n_outputs        4 (u32)
      value          8 (i64)     per output: signed, so that validation, not parsing, rejects
      pubkey         32          negative values ("value-out-of-range")
    memo_len         4 (u32)
    memo             memo_len

``txid()`` = sha256d(serialize()) and ``digest()`` = sha256d(unsigned encoding); the two
encodings start with different magics, so a digest is never the txid of another transaction.

Example
-------
>>> alice, bob = Wallet.from_seed(bytes(32)), Wallet.from_seed(bytes([1]) * 32)
>>> cb = make_coinbase(alice.public_key, height=1, reward=50 * COIN, fees=0)
>>> tx = make_payment(alice, [(OutPoint(cb.txid(), 0), cb.outputs[0])], bob.public_key,
...                   amount=20 * COIN, fee=COIN)
>>> [o.value // COIN for o in tx.outputs]            # payment, then change back to Alice
[20, 29]
>>> verify_signature(alice.public_key, tx.inputs[0].signature, tx.digest())
True
>>> Transaction.from_bytes(tx.serialize()) == tx
True
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["COIN", "MAX_MONEY", "COINBASE_MATURITY", "PUBKEY_SIZE", "SIGNATURE_SIZE", "Wallet",
           "verify_signature", "OutPoint", "TxOut", "TxIn", "Transaction", "make_payment", "make_coinbase"]

COIN = 10**8                       # base units per coin (Bitcoin's satoshis per bitcoin)
MAX_MONEY = 21_000_000 * COIN      # no output, and no sum of outputs, may exceed this (MoneyRange)
COINBASE_MATURITY = 10             # default blocks before a coinbase output may be spent
PUBKEY_SIZE = 32                   # raw Ed25519 public key (RFC 8032)
SIGNATURE_SIZE = 64                # raw Ed25519 signature

MAGIC = b"GCTX"
UNSIGNED_MAGIC = b"GCTU"
VERSION = 1
_U32 = 2**32
_U64 = 2**64
_I64 = 2**63


def _sha256d(data: bytes) -> bytes:
    """SHA-256 applied twice, Bitcoin's hash for txids and block headers."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _as_bytes(name: str, value, size: int | None = None) -> bytes:
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise ValueError(f"{name} must be {size} bytes, got {len(value)}")
    return value


def _as_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not lo <= value < hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}), got {value}")
    return value


# -- keys and signatures (Definition 1) -----------------------------------------------------------

class Wallet:
    """An Ed25519 key pair (Definition 1's digital signature scheme, RFC 8032).

    ``public_key`` is the 32 raw bytes that outputs pay to; :meth:`sign` returns a 64-byte
    signature. Ed25519 signing is deterministic, so a wallet from :meth:`from_seed` signs the
    same message the same way every time and transactions built in tests have fixed txids.
    (Seed 002 appendix B.5: "a new key pair should be used for each transaction" for privacy;
    :func:`make_payment` takes ``change_to`` for that.)
    """

    __slots__ = ("_private_key", "_public_key")

    def __init__(self, private_key: Ed25519PrivateKey):
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError(f"Wallet needs an Ed25519PrivateKey, got {type(private_key).__name__}")
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                                 serialization.PublicFormat.Raw)

    @classmethod
    def generate(cls) -> "Wallet":
        """A fresh key from the operating system's randomness."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "Wallet":
        """The key whose 32-byte RFC 8032 private seed is ``seed`` (deterministic; for tests)."""
        seed = _as_bytes("seed", seed, 32)
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(_as_bytes("message", message))

    def sign_transaction(self, tx: "Transaction") -> "Transaction":
        """``tx`` with every input signed by this wallet (all inputs sign the same digest)."""
        signature = self.sign(tx.digest())
        return tx.with_signatures([signature] * len(tx.inputs))

    def __repr__(self) -> str:      # never the private key
        return f"Wallet(public_key={self._public_key.hex()})"


def verify_signature(pubkey: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``pubkey``'s Ed25519 signature of ``message``. False, never an
    exception, for a wrong signature, a key that is not 32 bytes or not a valid encoding, or
    arguments that are not bytes."""
    try:
        key = Ed25519PublicKey.from_public_bytes(_as_bytes("pubkey", pubkey, PUBKEY_SIZE))
        key.verify(_as_bytes("signature", signature), _as_bytes("message", message))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# -- the transaction's parts ----------------------------------------------------------------------

@dataclass(frozen=True)
class OutPoint:
    """A coin's name: the id of the transaction that created it and the index of the output."""

    txid: bytes
    index: int

    def __post_init__(self):
        object.__setattr__(self, "txid", _as_bytes("OutPoint.txid", self.txid, 32))
        _as_int("OutPoint.index", self.index, 0, _U32)

    def serialize(self) -> bytes:
        return self.txid + struct.pack("<I", self.index)

    def __repr__(self) -> str:
        return f"OutPoint({self.txid.hex()[:16]}…:{self.index})"


@dataclass(frozen=True)
class TxOut:
    """An output: ``value`` base units payable to the holder of the Ed25519 key ``pubkey``.

    Any 64-bit signed value can be represented (so a transaction with a negative or oversized
    value can be parsed and then rejected with a reason, as Bitcoin does); validation accepts
    only 0 <= value <= MAX_MONEY."""

    value: int
    pubkey: bytes

    def __post_init__(self):
        _as_int("TxOut.value", self.value, -_I64, _I64)
        object.__setattr__(self, "pubkey", _as_bytes("TxOut.pubkey", self.pubkey, PUBKEY_SIZE))

    def serialize(self) -> bytes:
        return struct.pack("<q", self.value) + self.pubkey


@dataclass(frozen=True)
class TxIn:
    """An input: the coin it spends and the owner's signature of the spending transaction's
    :meth:`Transaction.digest` (empty until signed)."""

    outpoint: OutPoint
    signature: bytes = b""

    def __post_init__(self):
        if not isinstance(self.outpoint, OutPoint):
            raise TypeError(f"TxIn.outpoint must be an OutPoint, got {type(self.outpoint).__name__}")
        sig = _as_bytes("TxIn.signature", self.signature)
        if len(sig) >= _U32:
            raise ValueError("TxIn.signature is too long to encode")
        object.__setattr__(self, "signature", sig)


@dataclass(frozen=True)
class Transaction:
    """Inputs spending coins, outputs creating coins, and an optional memo (signed, never
    interpreted). A coinbase (``coinbase_height`` set, the height of its block) has no inputs.

    ``fee`` is not stored: it is the inputs' total minus the outputs', which only the UTXO set
    knows (:meth:`.utxo.UTXOSet.check_transaction` returns it)."""

    inputs: tuple
    outputs: tuple
    coinbase_height: int | None = None
    memo: bytes = b""

    def __post_init__(self):
        inputs, outputs = tuple(self.inputs), tuple(self.outputs)
        for i in inputs:
            if not isinstance(i, TxIn):
                raise TypeError(f"Transaction.inputs must hold TxIn, got {type(i).__name__}")
        for o in outputs:
            if not isinstance(o, TxOut):
                raise TypeError(f"Transaction.outputs must hold TxOut, got {type(o).__name__}")
        if len(inputs) >= _U32 or len(outputs) >= _U32:
            raise ValueError("too many inputs or outputs to encode")
        if self.coinbase_height is not None:
            _as_int("Transaction.coinbase_height", self.coinbase_height, 0, _U64)
        memo = _as_bytes("Transaction.memo", self.memo)
        if len(memo) >= _U32:
            raise ValueError("Transaction.memo is too long to encode")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "memo", memo)

    @property
    def is_coinbase(self) -> bool:
        return self.coinbase_height is not None

    def _encode(self, *, signed: bool) -> bytes:
        parts = [MAGIC if signed else UNSIGNED_MAGIC, bytes([VERSION, 1 if self.is_coinbase else 0])]
        if self.is_coinbase:
            parts.append(struct.pack("<Q", self.coinbase_height))
        parts.append(struct.pack("<I", len(self.inputs)))
        for i in self.inputs:
            parts.append(i.outpoint.serialize())
            if signed:
                parts.append(struct.pack("<I", len(i.signature)))
                parts.append(i.signature)
        parts.append(struct.pack("<I", len(self.outputs)))
        parts.extend(o.serialize() for o in self.outputs)
        parts.append(struct.pack("<I", len(self.memo)))
        parts.append(self.memo)
        return b"".join(parts)

    def serialize(self) -> bytes:
        """The canonical encoding (module docstring), signatures included."""
        cached = self.__dict__.get("_serialized")
        if cached is None:
            cached = self._encode(signed=True)
            object.__setattr__(self, "_serialized", cached)
        return cached

    def unsigned_bytes(self) -> bytes:
        """The encoding without the signatures, what :meth:`digest` hashes."""
        return self._encode(signed=False)

    def digest(self) -> bytes:
        """sha256d of the transaction without its signatures: the message every input signs. It
        commits to every outpoint spent and every output (amounts and payees) and the memo."""
        return _sha256d(self.unsigned_bytes())

    def txid(self) -> bytes:
        """sha256d of the full encoding, signatures included: the name of the outputs it creates."""
        cached = self.__dict__.get("_txid")
        if cached is None:
            cached = _sha256d(self.serialize())
            object.__setattr__(self, "_txid", cached)
        return cached

    def size(self) -> int:
        return len(self.serialize())

    def total_out(self) -> int:
        return sum(o.value for o in self.outputs)

    def with_signatures(self, signatures) -> "Transaction":
        """The same transaction with input i carrying ``signatures[i]`` (the digest is unchanged)."""
        signatures = list(signatures)
        if len(signatures) != len(self.inputs):
            raise ValueError(f"{len(self.inputs)} inputs need {len(self.inputs)} signatures, got {len(signatures)}")
        return replace(self, inputs=tuple(TxIn(i.outpoint, s) for i, s in zip(self.inputs, signatures)))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Transaction":
        """Parse the canonical encoding; ValueError for anything else (bad magic or version, an
        unknown kind, truncation, trailing bytes)."""
        data = _as_bytes("data", data)
        pos = 0

        def take(n: int, what: str) -> bytes:
            nonlocal pos
            if len(data) - pos < n:
                raise ValueError(f"transaction truncated: {what} needs {n} bytes at offset {pos}, "
                                 f"{len(data) - pos} left")
            chunk = data[pos:pos + n]
            pos += n
            return chunk

        def u32(what: str) -> int:
            return struct.unpack("<I", take(4, what))[0]

        if take(4, "magic") != MAGIC:
            raise ValueError(f"not a transaction: the encoding starts with {MAGIC!r}")
        version, kind = take(2, "version and kind")
        if version != VERSION:
            raise ValueError(f"unknown transaction version {version}; this node reads version {VERSION}")
        if kind not in (0, 1):
            raise ValueError(f"unknown transaction kind {kind}; 0 is ordinary, 1 coinbase")
        height = struct.unpack("<Q", take(8, "coinbase height"))[0] if kind == 1 else None
        inputs = []
        for _ in range(u32("input count")):
            outpoint = OutPoint(take(32, "input txid"), u32("input index"))
            inputs.append(TxIn(outpoint, take(u32("signature length"), "signature")))
        outputs = []
        for _ in range(u32("output count")):
            value = struct.unpack("<q", take(8, "output value"))[0]
            outputs.append(TxOut(value, take(PUBKEY_SIZE, "output pubkey")))
        memo = take(u32("memo length"), "memo")
        if pos != len(data):
            raise ValueError(f"{len(data) - pos} trailing bytes after the transaction")
        return cls(tuple(inputs), tuple(outputs), height, memo)

    def __repr__(self) -> str:
        kind = f"coinbase@{self.coinbase_height}" if self.is_coinbase else f"{len(self.inputs)} in"
        return f"Transaction({self.txid().hex()[:16]}…, {kind}, {len(self.outputs)} out, {self.total_out()} units)"


# -- building transactions (§3.3, "Creating Transaction"; Algorithm 2's trans^(j)) ----------------

def make_payment(wallet: Wallet, utxos, to: bytes, amount: int, fee: int, *,
                 change_to: bytes | None = None, memo: bytes = b"") -> Transaction:
    """A signed transaction paying ``amount`` to the key ``to`` and ``fee`` to the miner, with
    the change back to ``change_to`` (default: the wallet's own key).

    ``utxos`` is a list of (OutPoint, TxOut) coins of the wallet; they are spent in the order
    given until they cover amount + fee (pass them sorted as you prefer). Outputs: the payment
    first, then the change if any (no zero-value change output). ValueError if a coin pays
    another key, if the coins do not cover amount + fee, or for amount <= 0, fee < 0 or a
    total above MAX_MONEY."""
    to = _as_bytes("to", to, PUBKEY_SIZE)
    change_to = wallet.public_key if change_to is None else _as_bytes("change_to", change_to, PUBKEY_SIZE)
    _as_int("amount", amount, 1, MAX_MONEY + 1)
    _as_int("fee", fee, 0, MAX_MONEY + 1)
    need = amount + fee
    if need > MAX_MONEY:
        raise ValueError(f"amount + fee = {need} exceeds MAX_MONEY = {MAX_MONEY}")
    coins = list(utxos)
    for outpoint, txout in coins:
        if txout.pubkey != wallet.public_key:
            raise ValueError(f"coin {outpoint!r} pays key {txout.pubkey.hex()[:16]}…, not this wallet's "
                             f"{wallet.public_key.hex()[:16]}…; pass only the wallet's own coins")
    chosen, total = [], 0
    for outpoint, txout in coins:
        if total >= need:
            break
        chosen.append(outpoint)
        total += txout.value
    if total < need:
        raise ValueError(f"insufficient funds: the coins hold {total} units, amount + fee needs {need}")
    outputs = [TxOut(amount, to)]
    if total > need:
        outputs.append(TxOut(total - need, change_to))
    unsigned = Transaction(tuple(TxIn(op) for op in chosen), tuple(outputs), None, memo)
    return wallet.sign_transaction(unsigned)


def make_coinbase(miner_pubkey: bytes, height: int, reward: int, fees: int, *, memo: bytes = b"") -> Transaction:
    """The coinbase of the block at ``height``: one output paying ``reward + fees`` to the miner
    (Lemma 33: new coins plus the transaction fees). ``height`` is serialised (BIP 34)."""
    _as_int("reward", reward, 0, MAX_MONEY + 1)
    _as_int("fees", fees, 0, MAX_MONEY + 1)
    return Transaction((), (TxOut(reward + fees, miner_pubkey),), _as_int("height", height, 0, _U64), memo)
