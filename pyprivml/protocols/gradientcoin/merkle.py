"""The Merkle tree a GradientCoin header commits to its transactions with (seed 002 §3.3 and
Definition 7's "Lists of Transactions"; appendix B.4's Simplified Payment Verification, after
[Nak08] §7-§8), built so that it cannot be mutated by duplicating leaves.

Bitcoin's tree (``ComputeMerkleRoot`` in Bitcoin Core's ``src/consensus/merkle.cpp``) hashes an
odd level by pairing its last node with itself, so the transaction lists [a, b, c] and
[a, b, c, c] have the same root: CVE-2012-2459, which let an attacker make a valid block look
invalid (Bitcoin Core detects it after the fact with a ``mutated`` flag). This tree differs in two
ways, so that a root determines its leaf list:

* domain separation (as RFC 6962 / Certificate Transparency): a leaf hashes as
  ``sha256d(b"\\x00" + leaf)`` and an inner node as ``sha256d(b"\\x01" + left + right)``, so a leaf
  can never pass for an inner node (no second preimages by cutting a tree short);
* an odd node at the end of a level is promoted unchanged to the next level, never paired with
  itself; so [a, b, c] has root ``node(node(A, B), C)`` and [a, b, c, c] has ``node(node(A, B),
  node(C, C))``.

The shape of the tree is a function of the number of leaves, so given collision resistance two
different leaf lists have different roots; duplicate leaves are therefore allowed (whether a block
may hold the same transaction twice is a rule of :mod:`.chain`, not of the tree).

The empty list is refused (:class:`ValueError`): every block has at least its coinbase, and a
Bitcoin block without transactions is invalid.

:func:`merkle_proof` and :func:`verify_proof` give the inclusion proofs a light client checks
against a header's ``merkle_root`` (seed 002 Theorem 34, "Simplified Payment Verification").
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from .pow import sha256d

__all__ = ["LEAF_PREFIX", "NODE_PREFIX", "leaf_hash", "node_hash", "merkle_root", "MerkleProof", "merkle_proof",
           "verify_proof"]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def _as_bytes(name: str, value) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


def leaf_hash(leaf: bytes) -> bytes:
    """The hash of a leaf: ``sha256d(b"\\x00" + leaf)`` (a transaction id, or any byte string)."""
    return sha256d(LEAF_PREFIX + _as_bytes("a leaf", leaf))


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node from its two children's hashes: ``sha256d(b"\\x01" + left +
    right)``."""
    left, right = _as_bytes("left", left), _as_bytes("right", right)
    if len(left) != 32 or len(right) != 32:
        raise ValueError(f"children of a Merkle node are 32-byte hashes, got {len(left)} and {len(right)} bytes")
    return sha256d(NODE_PREFIX + left + right)


def _next_level(level: list[bytes]) -> list[bytes]:
    paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        paired.append(level[-1])          # promoted, not duplicated
    return paired


def _leaf_level(leaves) -> list[bytes]:
    leaves = list(leaves)
    if not leaves:
        raise ValueError("the Merkle root of no leaves is undefined: a block holds at least its coinbase")
    return [leaf_hash(leaf) for leaf in leaves]


def merkle_root(leaves: list[bytes]) -> bytes:
    """The 32-byte root of ``leaves`` (in order): leaves hashed with :func:`leaf_hash`, each level
    paired left to right with :func:`node_hash`, an odd last node promoted to the next level. One
    leaf's root is its :func:`leaf_hash`. Raises :class:`ValueError` for an empty list."""
    level = _leaf_level(leaves)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


@dataclass(frozen=True)
class MerkleProof:
    """That a leaf sits at position ``index`` of a tree of ``leaf_count`` leaves: the sibling
    hashes from the leaf up to the root, skipping the levels where the leaf's ancestor is promoted
    (so their number and sides follow from ``index`` and ``leaf_count``); see
    :func:`verify_proof` for what it proves."""

    index: int
    leaf_count: int
    siblings: tuple[bytes, ...]


def _path(index: int, leaf_count: int):
    """(position, level width) of the leaf's ancestor at each level below the root."""
    while leaf_count > 1:
        yield index, leaf_count
        index, leaf_count = index // 2, (leaf_count + 1) // 2


def merkle_proof(leaves: list[bytes], index: int) -> MerkleProof:
    """The inclusion proof of ``leaves[index]`` against :func:`merkle_root` of ``leaves``."""
    level = _leaf_level(leaves)
    index = operator.index(index)
    if not 0 <= index < len(level):
        raise IndexError(f"leaf index {index} is out of range for {len(level)} leaves")
    siblings = []
    for position, width in _path(index, len(level)):
        if not (position == width - 1 and width % 2):        # not the promoted odd node
            siblings.append(level[position ^ 1])
        level = _next_level(level)
    return MerkleProof(index, len(leaves), tuple(siblings))


def verify_proof(leaf: bytes, proof: MerkleProof, root: bytes) -> bool:
    """Whether ``proof`` shows ``leaf`` at position ``proof.index`` of a tree of
    ``proof.leaf_count`` leaves whose root is ``root``. False for a wrong leaf, root or sibling, or
    a proof with too many or too few siblings for its position.

    That ``leaf`` is one of the leaves under ``root`` is always sound (by collision resistance of
    the domain-separated hashes). Its position is sound only if ``proof.leaf_count`` is the tree's
    true size, which the root does not commit to: take it from a trusted source (the block's
    transaction count), since trees of different sizes can share a path shape (leaf 4 of 5 is
    promoted twice and passes as leaf 1 of 2). This is how Bitcoin's SPV proofs and RFC 6962's
    audit paths behave too."""
    if not isinstance(proof, MerkleProof):
        raise TypeError(f"verify_proof takes a MerkleProof, got {type(proof).__name__}")
    root = _as_bytes("root", root)
    index, count = operator.index(proof.index), operator.index(proof.leaf_count)
    if not 0 <= index < count:
        return False
    current = leaf_hash(leaf)
    siblings = list(proof.siblings)
    for position, width in _path(index, count):
        if position == width - 1 and width % 2:
            continue                                          # promoted: no sibling at this level
        if not siblings:
            return False
        sibling = _as_bytes("a sibling", siblings.pop(0))
        if len(sibling) != 32:
            return False
        current = node_hash(current, sibling) if position % 2 == 0 else node_hash(sibling, current)
    return not siblings and current == root
