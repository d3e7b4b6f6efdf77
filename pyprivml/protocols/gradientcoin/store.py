"""A node's persistent state in SQLite (the standard library's :mod:`sqlite3`).

One database file per node holds every valid block the node has indexed (with the order it
first saw them), its active branch, and the digests of the state at the tip: the UTXO set
(:meth:`.utxo.UTXOSet.digest`), the model x_t (SHA-256 of its float64 bytes) and the tip's hash.
:meth:`ChainStore.save` writes what changed since the last call in ONE SQLite transaction, so a
node killed at any moment leaves either the state before a block or the state after it, never
half of one (SQLite's journal does the rest).

Restoring (:meth:`ChainStore.load`) replays the saved blocks, in the order first seen, into a
fresh :class:`.chain.Chain`, which validates every block again (proof of work, Merkle roots,
signatures, coins, payload rules; Bitcoin's ``-reindex-chainstate``) and rebuilds the UTXO set,
the model and the undo data; the first-seen order makes equal-work ties come out as before. The
result must then match the saved tip, UTXO digest and model digest. Anything else (a file that
is not a database, a failed ``PRAGMA integrity_check``, a block whose bytes do not hash to its
key or fail validation, a state digest that does not match) raises :class:`StoreCorrupted`
naming the problem: a damaged database is reported, never silently used.

The mempool is not saved (Bitcoin's ``mempool.dat`` is optional too): unconfirmed transactions
are relayed again by the peers that still hold them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np

from .chain import Chain, ChainParams
from .utxo import ValidationError
from .wire import decode_block, encode_block

__all__ = ["ChainStore", "StoreCorrupted", "model_digest"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    seq INTEGER PRIMARY KEY,            -- the order the node first indexed the block
    hash BLOB NOT NULL UNIQUE,
    height INTEGER NOT NULL,
    parent BLOB NOT NULL,
    data BLOB NOT NULL                  -- wire.encode_block; sha256d(header) == hash
);
CREATE TABLE IF NOT EXISTS active (height INTEGER PRIMARY KEY, hash BLOB NOT NULL);
"""


class StoreCorrupted(RuntimeError):
    """The database cannot be trusted: what is wrong, and where."""


def model_digest(x) -> bytes:
    """SHA-256 of the model's float64 bytes (bit for bit)."""
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.float64).tobytes()).digest()


class ChainStore:
    """The SQLite file of one node. ``ChainStore(path)`` opens (creating if missing)."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)     # explicit transactions only
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupted(f"{self.path} is not a usable GradientCoin database: {exc}") from None
        self._saved: set[bytes] = set()
        self._active: list[bytes] = []

    def close(self) -> None:
        self.db.close()

    def _meta(self, key: str):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @property
    def empty(self) -> bool:
        return self._meta("genesis") is None

    def set_info(self, info: dict) -> None:
        """Public facts about the run (its configuration), for ``pyprivml chain show``."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('info', ?)", (json.dumps(info, sort_keys=True),))

    def info(self) -> dict:
        raw = self._meta("info")
        return {} if raw is None else json.loads(raw)

    # -- writing ---------------------------------------------------------------------------------

    def save(self, chain: Chain) -> int:
        """Write the blocks ``chain`` indexed since the last save, its active branch and the tip's
        state digests, in one transaction. Returns the number of new blocks written."""
        # Blocks enter chain.blocks in the order they are indexed, so the unsaved ones are its
        # tail (blocks refused during a failed reorganisation stay there, out of the index).
        new = []
        for h in reversed(chain.blocks):
            if h in self._saved:
                break
            if h in chain.index:
                new.append(h)
        new.sort(key=lambda h: chain.index[h].order)
        # Two branches differ at every height above their fork, so walk back from the shorter tip.
        fork = min(len(self._active), len(chain.active))
        while fork > 0 and self._active[fork - 1] != chain.active[fork - 1]:
            fork -= 1
        if not new and fork == len(self._active) == len(chain.active):
            return 0
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if self.empty:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                db.execute("INSERT INTO meta VALUES ('genesis', ?)", (chain.genesis_hash,))
            for h in new:
                e = chain.index[h]
                db.execute("INSERT INTO blocks (hash, height, parent, data) VALUES (?, ?, ?, ?)",
                           (h, e.height, e.parent, encode_block(chain.blocks[h])))
            db.execute("DELETE FROM active WHERE height >= ?", (fork,))
            db.executemany("INSERT INTO active VALUES (?, ?)",
                           [(i, chain.active[i]) for i in range(fork, len(chain.active))])
            for key, value in (("tip", chain.tip), ("utxo", chain.utxo.digest()), ("model", model_digest(chain.x))):
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._saved.update(new)
        self._active[fork:] = chain.active[fork:]
        return len(new)

    # -- reading ---------------------------------------------------------------------------------

    def load(self, params: ChainParams) -> Chain:
        """The chain the database holds, every block validated again; :class:`StoreCorrupted`
        if anything does not check out. An empty database gives a chain at genesis."""
        chain = Chain(params)
        try:
            check = self.db.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise StoreCorrupted(f"{self.path}: SQLite integrity check failed: {check[:3]}")
            if self.empty:
                return chain
            if self._meta("schema") != SCHEMA_VERSION:
                raise StoreCorrupted(f"{self.path}: schema version {self._meta('schema')!r}, expected {SCHEMA_VERSION}")
            if self._meta("genesis") != chain.genesis_hash:
                raise StoreCorrupted(f"{self.path} belongs to another chain (its genesis differs from these parameters')")
            rows = self.db.execute("SELECT seq, hash, data FROM blocks ORDER BY seq").fetchall()
            saved = {k: self._meta(k) for k in ("tip", "utxo", "model")}
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupted(f"{self.path} is damaged: {exc}") from None
        for seq, h, data in rows:
            try:
                block = decode_block(data)
            except ValueError as exc:
                raise StoreCorrupted(f"{self.path}: block #{seq} cannot be parsed: {exc}") from None
            if block.hash() != h:
                raise StoreCorrupted(f"{self.path}: block #{seq}'s bytes do not hash to its key {h.hex()[:16]}")
            if h == chain.genesis_hash:
                continue
            try:
                status = chain.submit(block)
            except ValidationError as exc:
                raise StoreCorrupted(f"{self.path}: block #{seq} ({h.hex()[:16]}) fails validation: {exc}") from None
            if status == "orphan":
                raise StoreCorrupted(f"{self.path}: block #{seq} ({h.hex()[:16]}) was saved before its parent")
        got = {"tip": chain.tip, "utxo": chain.utxo.digest(), "model": model_digest(chain.x)}
        for key, value in got.items():
            if saved[key] != value:
                raise StoreCorrupted(f"{self.path}: the replayed chain's {key} does not match the saved one "
                                     f"(saved {bytes(saved[key] or b'').hex()[:16]}, replayed {value.hex()[:16]})")
        self._saved = set(chain.blocks)
        self._active = list(chain.active)
        return chain

    def rows(self) -> list[tuple]:
        """(height, hash, data, on the active branch) of every saved block, by height then seq."""
        active = {h for (h,) in self.db.execute("SELECT hash FROM active")}
        return [(height, h, data, h in active) for height, h, data in
                self.db.execute("SELECT height, hash, data FROM blocks ORDER BY height, seq")]
