"""Seed 000: Alice and Bob train ridge regression on a chain, with two aggregators racing on the puzzle.

The lecture note's four nodes, one rank each: Alice (0) and Bob (1) each hold half of the data;
the aggregators Agg1 (2) and Agg2 (3) hold none. The objective is

    L(w) = Σ_i ½ (y_i − wᵀx_i)² + γ ‖w‖²,   ∇L(w) = Σ_i x_i (wᵀx_i − y_i) + 2γ w = g_A + g_B,

with g_A = Σ_{i ∈ Alice} x_i (wᵀx_i − y_i) + γ w and g_B likewise (each data holder adds half of
the regulariser's gradient; the note writes "+2w" beside each local sum, which would count it
twice). Round t, as the note numbers the steps:

1. every node reads w^{t−1} from the block B_{t−1} at its tip;
2. Alice and Bob compute g_A^{t−1} and g_B^{t−1} locally;
3. they sign them (Ed25519, over the round, the previous block's hash and the gradient's bytes)
   and broadcast them to the aggregators;
4. the aggregators check both signatures, write w^t = w^{t−1} − α (g_A + g_B) into a block and race
   on the proof of work; each sends every node its block, or that it lost the race.

Every node checks a block before it accepts it: the proof of work, the previous hash, both
signatures, and that w^t equals w^{t−1} − α (g_A + g_B) bit for bit; a block that fails any of these
is rejected. Of the valid blocks of a round every node takes the one with the smaller hash (a
deterministic tie-break, so the toy has no forks). After T rounds the chain's w equals
centralised gradient descent, :func:`centralised_gd`, bit for bit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..config import ProtocolConfig, check_int, check_real
from ..tags import tags_for
from . import pow as proof
from .tx import Wallet, verify_signature

__all__ = ["ToyConfig", "ToyBlock", "ToyResult", "toy_role", "run_toy", "check_block", "centralised_gd", "local_gradient", "ALICE", "BOB",
           "AGGREGATORS"]

ALICE, BOB = 0, 1
AGGREGATORS = (2, 3)
TAGS = tags_for("gradientcoin")


@dataclass(frozen=True, kw_only=True)
class ToyConfig(ProtocolConfig):
    """γ, α, the rounds T and the puzzle's compact difficulty bits."""

    gamma: float = 0.1
    alpha: float = 1e-3
    rounds: int = 10
    bits: int = 0x1F00FFFF

    def validate(self) -> None:
        super().validate()
        check_real("gamma", self.gamma, non_negative=True)
        check_real("alpha", self.alpha, positive=True)
        check_int("rounds", self.rounds, minimum=1)
        proof.compact_to_target(self.bits)   # a valid, non-negative target


def local_gradient(X, y, w, gamma: float) -> np.ndarray:
    """A data holder's share of ∇L: Σ_{i ∈ holder} x_i (wᵀx_i − y_i) + γ w (step 2)."""
    return X.T @ (X @ w - y) + gamma * w


def centralised_gd(parts, w0, gamma: float, alpha: float, rounds: int) -> list[np.ndarray]:
    """Gradient descent on the pooled data: w^t = w^{t−1} − α ∇L(w^{t−1}), ∇L summed holder by
    holder in the same order as the chain's aggregate (floating-point addition is not associative,
    so "bit for bit" fixes the order)."""
    w, out = np.array(w0, dtype=np.float64), []
    for _ in range(rounds):
        grad = sum((local_gradient(X, y, w, gamma) for X, y in parts[1:]), local_gradient(*parts[0], w, gamma))
        w = w - alpha * grad
        out.append(w.copy())
    return out


def _signed_message(round_: int, prev_hash: bytes, gradient: np.ndarray) -> bytes:
    return b"gradient" + round_.to_bytes(4, "little") + prev_hash + np.ascontiguousarray(gradient, "<f8").tobytes()


@dataclass(frozen=True)
class ToyBlock:
    """A block of the toy chain: the header, w^t, and the two signed gradients it aggregates."""

    header: object
    w: np.ndarray
    gradients: tuple                 # ((pubkey, gradient, signature), ...) Alice's then Bob's

    def payload_bytes(self) -> bytes:
        parts = [np.ascontiguousarray(self.w, "<f8").tobytes()]
        for key, g, sig in self.gradients:
            parts += [key, np.ascontiguousarray(g, "<f8").tobytes(), sig]
        return b"".join(parts)

    def hash(self) -> bytes:
        return self.header.hash()


def check_block(block: ToyBlock, prev: ToyBlock, round_: int, holders: dict, alpha: float) -> None:
    """What every node checks (step 4): proof of work, previous hash, payload hash, both
    signatures, and the update equal to w^{t−1} − α (g_A + g_B) bit for bit."""
    h = block.header
    if h.prev_hash != prev.hash():
        raise ValueError(f"round {round_}: the block does not extend the tip")
    if h.payload_hash != proof.sha256d(block.payload_bytes()):
        raise ValueError(f"round {round_}: the payload does not match the header's payload hash")
    if not h.meets_target():
        raise ValueError(f"round {round_}: the block does not meet its proof-of-work target")
    if [k for k, _, _ in block.gradients] != [holders[ALICE], holders[BOB]]:
        raise ValueError(f"round {round_}: the block must carry Alice's and Bob's gradients, in that order")
    for key, g, sig in block.gradients:
        if not verify_signature(key, sig, _signed_message(round_, prev.hash(), g)):
            raise ValueError(f"round {round_}: a gradient's signature does not verify")
    expected = prev.w - alpha * (block.gradients[0][1] + block.gradients[1][1])
    if not np.array_equal(block.w, expected):
        raise ValueError(f"round {round_}: the block's w is not w^(t-1) - alpha (g_A + g_B)")


def _block_of(msg) -> ToyBlock:
    return ToyBlock(proof.BlockHeader.from_bytes(msg["header"]), np.asarray(msg["w"]),
                    tuple(tuple(g) for g in msg["gradients"]))


def _valid(block, prev, round_, holders, alpha) -> bool:
    try:
        check_block(block, prev, round_, holders, alpha)
    except ValueError:
        return False
    return True


@dataclass
class ToyResult:
    """One node's chain: w^t per round, the block hashes, which aggregator won each round, and the
    blocks it rejected."""

    weights: list = field(default_factory=list)
    hashes: list = field(default_factory=list)
    winners: list = field(default_factory=list)
    rejected: list = field(default_factory=list)


def _genesis(w0, bits: int) -> ToyBlock:
    w0 = np.array(w0, dtype=np.float64)
    body = ToyBlock(None, w0, ())
    header = proof.BlockHeader(version=1, prev_hash=bytes(32), merkle_root=bytes(32),
                               payload_hash=proof.sha256d(body.payload_bytes()), time=0, bits=bits, nonce=0)
    return ToyBlock(proof.mine(header), w0, ())


def toy_role(parts, w0, config: ToyConfig, *, forge=None):
    """Every rank's role. ``parts`` are Alice's and Bob's (X, y) (each holder reads only its own);
    ``forge(round) -> bool`` makes Agg2 write a wrong update in those rounds (for the tests)."""
    wallets = {r: Wallet.from_seed(hashlib.sha256(b"toy-key-%d" % r + bytes([config.seed or 0])).digest())
               for r in (ALICE, BOB, *AGGREGATORS)}
    holders = {r: wallets[r].public_key for r in (ALICE, BOB)}

    def role(transport):
        if transport.size != 4:
            raise ValueError(f"seed 000's network has 4 nodes (Alice, Bob, Agg1, Agg2), got {transport.size} ranks")
        me = transport.rank
        tip = _genesis(w0, config.bits)
        result = ToyResult()
        for t in range(1, config.rounds + 1):
            if me in (ALICE, BOB):                                          # steps 1-3
                X, y = parts[me]
                g = local_gradient(X, y, tip.w, config.gamma)
                sig = wallets[me].sign(_signed_message(t, tip.hash(), g))
                for agg in AGGREGATORS:
                    transport.send({"round": t, "key": holders[me], "signature": sig}, agg, TAGS.gradient)
                    transport.send(g, agg, TAGS.gradient)
            else:                                                           # step 4
                gradients = []
                for holder in (ALICE, BOB):
                    meta, _ = transport.recv(holder, TAGS.gradient, timeout=config.timeout)
                    g, _ = transport.recv(holder, TAGS.gradient, timeout=config.timeout)
                    if not verify_signature(meta["key"], meta["signature"], _signed_message(t, tip.hash(), g)):
                        raise ValueError(f"aggregator {me}: holder {holder}'s gradient has a bad signature")
                    gradients.append((meta["key"], g, meta["signature"]))
                w = tip.w - config.alpha * (gradients[0][1] + gradients[1][1])
                if forge is not None and me == AGGREGATORS[1] and forge(t):
                    w = w + 1e-9                                            # a dishonest aggregator
                body = ToyBlock(None, w, tuple(gradients))
                # the merkle_root field names the aggregator (its key's hash, as a coinbase would), so
                # the two aggregators search different puzzles and their blocks differ
                header = proof.BlockHeader(version=1, prev_hash=tip.hash(),
                                           merkle_root=proof.sha256d(wallets[me].public_key),
                                           payload_hash=proof.sha256d(body.payload_bytes()), time=t,
                                           bits=config.bits, nonce=0)
                rival = AGGREGATORS[1] if me == AGGREGATORS[0] else AGGREGATORS[0]
                mined, received = _race(transport, header, rival, t, config,
                                        lambda m: _valid(_block_of(m), tip, t, holders, config.alpha))
                if mined is not None:
                    mined = ToyBlock(mined, w, tuple(gradients))
                    message = {"round": t, "header": mined.header.serialize(), "w": w, "gradients": list(gradients)}
                else:
                    message = {"round": t, "lost": True}
                for r in range(transport.size):
                    if r != me:
                        transport.send(message, r, TAGS.block)
            candidates = []                                                  # every node checks
            for agg in AGGREGATORS:
                if agg == me:
                    msg = None if mined is None else {"own": mined}
                elif me in AGGREGATORS and received is not None:
                    msg = received                                           # taken while racing
                else:
                    msg, _ = transport.recv(agg, TAGS.block, timeout=config.timeout)
                if msg is None or msg.get("lost"):
                    continue
                block = msg.get("own") or _block_of(msg)
                try:
                    check_block(block, tip, t, holders, config.alpha)
                    candidates.append((block.hash(), agg, block))
                except ValueError as exc:
                    result.rejected.append((t, agg, str(exc)))
            if not candidates:
                raise ValueError(f"rank {me}: no valid block in round {t}")
            _, winner, tip = min(candidates, key=lambda c: c[0])
            result.weights.append(tip.w.copy())
            result.hashes.append(tip.hash())
            result.winners.append(winner)
        return result

    return role



def _race(transport, header, rival: int, round_: int, config: ToyConfig, accept, slice_: int = 4096):
    """Step 4's race: search nonces in slices and look between slices for the rival's block of
    this round; stop when it is valid (``accept``), keep mining past an invalid one. Returns (our
    mined header or None, the rival's message if it came while we mined)."""
    start, rivals = 0, None
    while True:
        found = proof.mine(header, start_nonce=start, max_tries=slice_)
        if found is not None:
            return found, rivals
        start += slice_
        if rivals is None and transport.probe(rival, TAGS.block):
            rivals, _ = transport.recv(rival, TAGS.block, timeout=config.timeout)
            if rivals.get("lost"):
                raise ValueError(f"round {round_}: the rival aggregator gave up before anyone found a block")
            if accept(rivals):
                return None, rivals


def run_toy(parts, w0, config: ToyConfig, *, transport="auto", forge=None, record_payloads=False):
    """Run the four nodes; every rank's :class:`ToyResult` (under MPI, this rank's only)."""
    from ...comm import launch

    return launch(toy_role(parts, w0, config, forge=forge), 4, transport, record_payloads=record_payloads)
