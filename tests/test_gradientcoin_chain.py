"""The gradient chain: connecting gradient blocks, fork choice by work, orphans, reorganisation
with undo of coins and model, and the consensus rules every node checks (seed 002 §3-§4)."""

import dataclasses

import numpy as np
import pytest

from pyprivml.protocols.gradientcoin import payload, pow as proof
from pyprivml.protocols.gradientcoin.chain import Block, Chain, ChainParams, build_block
from pyprivml.protocols.gradientcoin.tx import Wallet, make_payment
from pyprivml.protocols.gradientcoin.utxo import ValidationError

EASY = 0x207FFFFF          # regtest's limit: about every other nonce meets it


@pytest.fixture
def params():
    return ChainParams(rules=payload.ConsensusRules(max_update_norm=1.0, d=3), x0=np.zeros(3),
                       genesis_bits=EASY, pow_limit_bits=EASY, retarget_interval=1000, maturity=2)


def _mine(block):
    return dataclasses.replace(block, header=proof.mine(block.header))


def _next(chain, miner, delta, *, txs=(), time=None, parent_chain=None):
    """A mined block with update delta on chain's tip."""
    c = parent_chain or chain
    prev = c.tip
    update = payload.make_update(np.asarray(delta, dtype=float), prev_hash=prev)
    t = time if time is not None else c.index[prev].header.time + 10
    return _mine(build_block(c, miner.public_key, update, txs, time=t))


def test_blocks_connect_and_the_model_is_x0_plus_the_updates(params):
    alice = Wallet.from_seed(bytes(32))
    chain = Chain(params)
    deltas = [[0.1, 0, 0], [0, 0.2, 0], [0, 0, -0.3]]
    for d in deltas:
        assert chain.submit(_next(chain, alice, d)) == "connected"
    assert chain.height == 3
    np.testing.assert_array_equal(chain.model(), np.sum(deltas, axis=0))
    assert chain.utxo.balance(alice.public_key) == 3 * params.reward


def test_more_work_reorganises_and_undoes_coins_and_model_exactly(params):
    alice, bob = Wallet.from_seed(bytes(32)), Wallet.from_seed(bytes([1]) * 32)
    a, b = Chain(params), Chain(params)
    for node in (a, b):
        assert node.genesis_hash == a.genesis_hash
    a.submit(_next(a, alice, [0.1, 0, 0]))
    a.submit(_next(a, alice, [0.1, 0, 0]))
    before = (a.model(), a.utxo.digest())
    for d in ([0, 0.5, 0], [0, 0.5, 0], [0, 0, 0.5]):      # b's branch: 3 blocks to a's 2
        b.submit(_next(b, bob, d))
    branch = [b.block_at(h) for h in range(1, b.height + 1)]
    assert a.submit(branch[0]) == "side"                      # less work: stays on its own branch
    assert a.submit(branch[1]) == "side"                      # equal work: the branch seen first wins
    np.testing.assert_array_equal(a.model(), before[0])
    assert a.submit(branch[2]) == "connected"                 # more work: reorganise
    assert a.tip == b.tip and a.reorganisations == [(0, 2)]
    np.testing.assert_array_equal(a.model(), b.model())
    assert a.utxo.digest() == b.utxo.digest()
    assert a.utxo.balance(alice.public_key) == 0              # alice's coinbases were undone


def test_orphans_connect_when_their_parent_arrives(params):
    alice = Wallet.from_seed(bytes(32))
    src = Chain(params)
    blocks = []
    for d in ([0.1, 0, 0], [0.2, 0, 0], [0.3, 0, 0]):
        blk = _next(src, alice, d)
        src.submit(blk)
        blocks.append(blk)
    dst = Chain(params)
    assert dst.submit(blocks[2]) == "orphan" and dst.submit(blocks[1]) == "orphan"
    assert dst.submit(blocks[0]) == "connected"
    assert dst.tip == src.tip and np.array_equal(dst.model(), src.model())


def test_every_consensus_rule_refuses_and_leaves_the_node_unchanged(params):
    alice = Wallet.from_seed(bytes(32))
    chain = Chain(params)
    chain.submit(_next(chain, alice, [0.1, 0, 0]))
    state = (chain.tip, chain.model(), chain.utxo.digest())
    good = _next(chain, alice, [0.1, 0, 0])

    tampered = dataclasses.replace(good, update=payload.make_update(np.array([0.2, 0, 0]), prev_hash=chain.tip))
    over_norm_update = payload.make_update(np.array([5.0, 0, 0]), prev_hash=chain.tip)
    over_norm = _mine(build_block(chain, alice.public_key, over_norm_update, time=good.header.time))
    nonce = next(n for n in range(1000) if not good.header.with_nonce(n).meets_target())
    bad_pow = dataclasses.replace(good, header=good.header.with_nonce(nonce))
    wrong_bits = _mine(dataclasses.replace(good, header=dataclasses.replace(good.header, bits=0x1F7FFFFF)))
    too_early = _mine(dataclasses.replace(good, header=dataclasses.replace(
        good.header, time=chain.index[chain.tip].header.time - 100)))
    cases = {"bad-payload-hash": tampered, "bad-payload": over_norm, "bad-proof-of-work": bad_pow,
             "bad-bits": wrong_bits, "bad-time": too_early}
    for reason, block in cases.items():
        with pytest.raises(ValidationError) as err:
            chain.submit(block)
        assert err.value.reason == reason, (reason, err.value)
        assert (chain.tip, chain.model().tolist(), chain.utxo.digest()) == (state[0], state[1].tolist(), state[2])
    assert chain.submit(good) == "connected"


def test_a_spend_undone_by_a_reorganisation_becomes_spendable_again(params):
    alice, bob = Wallet.from_seed(bytes(32)), Wallet.from_seed(bytes([1]) * 32)
    a = Chain(params)
    for _ in range(3):                                        # alice's first coinbase matures
        a.submit(_next(a, alice, [0, 0, 0]))
    b = Chain(params)
    for h in range(1, 4):
        b.submit(a.block_at(h))
    coin = next((op, out) for op, (out, height, cb) in a.utxo.coins.items() if height == 1) \
        if hasattr(a.utxo, "coins") else None
    if coin is None:
        pytest.skip("UTXOSet exposes no coin listing")
    pay = make_payment(alice, [coin], bob.public_key, params.reward // 2, 1000)
    a.submit(_next(a, alice, [0, 0, 0], txs=(pay,)))
    assert a.utxo.balance(bob.public_key) == params.reward // 2
    # b never saw the payment and builds a longer branch: a reorganises and the spend is undone
    for _ in range(2):
        b.submit(_next(b, bob, [0, 0, 0]))
    for h in range(4, b.height + 1):
        a.submit(b.block_at(h))
    assert a.tip == b.tip and a.utxo.balance(bob.public_key) == 2 * params.reward
    assert a.utxo.check_transaction(pay, a.height + 1, maturity=params.maturity) == 1000   # valid again
