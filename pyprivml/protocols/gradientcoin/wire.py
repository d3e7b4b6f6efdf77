"""What peers send each other: blocks as bytes, and the gossip messages (Bitcoin's P2P protocol,
reduced to what a gradient chain needs).

A block travels as ``header (112 bytes) ‖ u32 n ‖ n × (u32 len ‖ transaction) ‖ u32 len ‖ update``,
parsed strictly (:func:`decode_block` refuses truncated, overlong or malformed bytes; validation
proper is the chain's job). Messages are tuples whose first item names them:

=====================================  =========================================================
``("inv", kind, hashes)``              "I have these" (kind ``"block"`` or ``"tx"``), sent on
                                       acceptance: blocks are announced by hash, never pushed
``("getdata", kind, hashes)``          "send me these"
``("block", data)``, ``("tx", data)``  the object itself, as bytes
``("getblocks", locator)``             "what follows the first of these hashes on your branch?";
                                       answered by an ``inv`` of up to 500 block hashes
``("status", tip, height, idle)``      a peer's tip, and whether it has stopped mining (the
                                       run's termination, :mod:`.run`)
``("stop",)``, ``("final", summary)``  the end of a run
=====================================  =========================================================

Nothing else crosses between peers: no user data, no gradients other than the updates blocks
publish, no private keys.
"""

from __future__ import annotations

import struct

from .chain import Block
from .payload import ModelUpdate
from .pow import BLOCK_HEADER_SIZE as HEADER_BYTES, BlockHeader
from .tx import Transaction

__all__ = ["encode_block", "decode_block", "MESSAGE_KINDS", "check_message"]

_U32 = struct.Struct("<I")
#: The first item of every message a peer accepts.
MESSAGE_KINDS = ("inv", "getdata", "block", "tx", "getblocks", "status", "stop", "final")


def encode_block(block: Block) -> bytes:
    """The canonical bytes of ``block``."""
    parts = [block.header.serialize(), _U32.pack(len(block.transactions))]
    for tx in block.transactions:
        data = tx.serialize()
        parts += [_U32.pack(len(data)), data]
    update = block.update.to_bytes()
    parts += [_U32.pack(len(update)), update]
    return b"".join(parts)


def decode_block(data) -> Block:
    """Parse :func:`encode_block`'s bytes; ValueError saying what is wrong otherwise."""
    data = bytes(data)
    pos = 0

    def take(n: int, what: str) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise ValueError(f"truncated block: {what} needs {n} bytes at offset {pos}, only {len(data) - pos} left")
        out = data[pos:pos + n]
        pos += n
        return out

    header = BlockHeader.from_bytes(take(HEADER_BYTES, "the header"))
    (count,) = _U32.unpack(take(4, "the transaction count"))
    if count > len(data):
        raise ValueError(f"malformed block: {count} transactions cannot fit in {len(data)} bytes")
    txs = []
    for i in range(count):
        (n,) = _U32.unpack(take(4, f"the length of transaction {i}"))
        txs.append(Transaction.from_bytes(take(n, f"transaction {i}")))
    (n,) = _U32.unpack(take(4, "the update's length"))
    update = ModelUpdate.from_bytes(take(n, "the update"))
    if pos != len(data):
        raise ValueError(f"malformed block: {len(data) - pos} bytes after the update")
    return Block(header, tuple(txs), update)


def check_message(message) -> str:
    """The kind of a received message; ValueError for anything that is not one of ours."""
    if not isinstance(message, tuple) or not message or message[0] not in MESSAGE_KINDS:
        head = message[0] if isinstance(message, tuple) and message else type(message).__name__
        raise ValueError(f"not a GradientCoin message: {head!r} (expected one of {', '.join(MESSAGE_KINDS)})")
    return message[0]
