"""Seed 002's coins: Ed25519-signed transactions, the UTXO set and the mempool (§3.1 Definitions
1-2, §3.3 and Algorithm 2 line 19, "valid and not already spent"; Bitcoin's rules)."""

import hashlib
from dataclasses import replace

import pytest

from pyprivml.protocols.gradientcoin.mempool import Mempool
from pyprivml.protocols.gradientcoin.tx import (COIN, COINBASE_MATURITY, MAX_MONEY, OutPoint, Transaction, TxIn,
                                                TxOut, Wallet, make_coinbase, make_payment, verify_signature)
from pyprivml.protocols.gradientcoin.utxo import BlockUndo, Coin, UTXOSet, ValidationError

REWARD = 50 * COIN


def sha256d(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def wallet(name):
    return Wallet.from_seed(hashlib.sha256(name.encode()).digest())


ALICE, BOB, CAROL, MINER = (wallet(n) for n in ("alice", "bob", "carol", "miner"))


def coins_of(tx):
    return [(OutPoint(tx.txid(), i), o) for i, o in enumerate(tx.outputs)]


def block(utxo, height, txs=(), *, miner=MINER, extra=0, maturity=COINBASE_MATURITY):
    """The coinbase (reward + fees + ``extra``) then ``txs``."""
    fees = sum(utxo.check_transaction(t, height, maturity=maturity) for t in txs)
    return [make_coinbase(miner.public_key, height, REWARD, fees + extra), *txs]


@pytest.fixture
def chain():
    """A UTXO set where Alice's coinbase of height 1 is mature at height 1 + COINBASE_MATURITY."""
    utxo = UTXOSet()
    cb = make_coinbase(ALICE.public_key, 1, REWARD, 0)
    utxo.apply_block([cb], 1, reward=REWARD)
    return utxo, cb, 1 + COINBASE_MATURITY


def reason(excinfo):
    return excinfo.value.reason


# -- signatures ----------------------------------------------------------------------------------

def test_ed25519_matches_rfc8032_test_vector_1():
    w = Wallet.from_seed(bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    assert w.public_key.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert w.sign(b"").hex() == ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
                                 "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def test_signature_valid_tampered_and_wrong_key():
    message = sha256d(b"a transaction digest")
    sig = ALICE.sign(message)
    assert len(sig) == 64 and len(ALICE.public_key) == 32
    assert verify_signature(ALICE.public_key, sig, message)
    tampered = bytes([message[0] ^ 1]) + message[1:]
    assert not verify_signature(ALICE.public_key, sig, tampered)
    assert not verify_signature(BOB.public_key, sig, message)
    assert not verify_signature(ALICE.public_key, sig[:-1] + bytes([sig[-1] ^ 1]), message)
    assert not verify_signature(ALICE.public_key[:31], sig, message)        # malformed key: False, no raise
    assert not verify_signature("not bytes", sig, message)


def test_wallets_are_deterministic_from_seed_and_fresh_when_generated():
    assert wallet("alice").public_key == ALICE.public_key
    assert wallet("alice").sign(b"m") == ALICE.sign(b"m")                  # Ed25519 is deterministic
    assert Wallet.generate().public_key != Wallet.generate().public_key
    with pytest.raises(ValueError):
        Wallet.from_seed(bytes(31))
    assert ALICE.public_key.hex() in repr(ALICE)


def test_signature_commits_to_outputs(chain):
    utxo, cb, h = chain
    tx = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, COIN)
    assert utxo.check_transaction(tx, h) == COIN
    # raise the payment after signing: the digest changes, the signature no longer matches
    more = replace(tx, outputs=(TxOut(tx.outputs[0].value + COIN, BOB.public_key), tx.outputs[1]))
    assert more.digest() != tx.digest()
    with pytest.raises(ValidationError) as e:
        utxo.check_transaction(more, h)
    assert reason(e) == "bad-signature"
    # redirect the payment to Carol after signing
    redirected = replace(tx, outputs=(TxOut(tx.outputs[0].value, CAROL.public_key), tx.outputs[1]))
    with pytest.raises(ValidationError) as e:
        utxo.check_transaction(redirected, h)
    assert reason(e) == "bad-signature"
    # the memo is signed too
    with pytest.raises(ValidationError) as e:
        utxo.check_transaction(replace(tx, memo=b"x"), h)
    assert reason(e) == "bad-signature"


def test_spending_someone_elses_coin_is_a_bad_signature(chain):
    utxo, cb, h = chain
    unsigned = Transaction((TxIn(OutPoint(cb.txid(), 0)),), (TxOut(REWARD, BOB.public_key),))
    stolen = BOB.sign_transaction(unsigned)                                   # Bob signs Alice's coin
    with pytest.raises(ValidationError) as e:
        utxo.check_transaction(stolen, h)
    assert reason(e) == "bad-signature"
    assert "owner" in str(e.value)
    assert utxo.check_transaction(ALICE.sign_transaction(unsigned), h) == 0
    with pytest.raises(ValidationError) as e:
        utxo.check_transaction(unsigned, h)                                   # no signature at all
    assert reason(e) == "bad-signature"


def test_signature_of_another_transaction_does_not_transfer(chain):
    utxo, cb, h = chain
    a = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, 0)
    b = make_payment(ALICE, coins_of(cb), CAROL.public_key, 10 * COIN, 0)
    forged = b.with_signatures([a.inputs[0].signature])
    with pytest.raises(ValidationError) as e:
        utxo.check_transaction(forged, h)
    assert reason(e) == "bad-signature"


# -- encoding and ids ------------------------------------------------------------------------------

def test_digest_excludes_signatures_and_txid_includes_them(chain):
    _, cb, _ = chain
    tx = make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, 0)
    other = tx.with_signatures([bytes(64)])
    assert other.digest() == tx.digest()
    assert other.txid() != tx.txid()
    assert tx.txid() == sha256d(tx.serialize())
    assert tx.digest() == sha256d(tx.unsigned_bytes())
    assert tx.inputs[0].signature not in tx.unsigned_bytes()
    assert tx.inputs[0].signature in tx.serialize()


def test_round_trip_and_strict_parsing(chain):
    _, cb, _ = chain
    tx = make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, 7, memo=b"hello")
    for t in (tx, cb):
        data = t.serialize()
        assert Transaction.from_bytes(data) == t
        assert Transaction.from_bytes(data).txid() == t.txid()
        with pytest.raises(ValueError, match="trailing"):
            Transaction.from_bytes(data + b"\0")
        with pytest.raises(ValueError, match="truncated"):
            Transaction.from_bytes(data[:-1])
    with pytest.raises(ValueError, match="not a transaction"):
        Transaction.from_bytes(tx.unsigned_bytes())
    negative = Transaction((), (TxOut(-5, BOB.public_key),), 3)
    assert Transaction.from_bytes(negative.serialize()).outputs[0].value == -5


def test_txids_are_deterministic():
    def build():
        cb = make_coinbase(ALICE.public_key, 1, REWARD, 0)
        return cb, make_payment(ALICE, coins_of(cb), BOB.public_key, 3 * COIN, 1000)
    (cb1, tx1), (cb2, tx2) = build(), build()
    assert cb1.txid() == cb2.txid() and tx1.txid() == tx2.txid()
    assert tx1.serialize() == tx2.serialize()
    # the encoding of a coinbase, byte for byte (module docstring's wire format)
    expected = (b"GCTX" + bytes([1, 1]) + (1).to_bytes(8, "little") + (0).to_bytes(4, "little")
                + (1).to_bytes(4, "little") + REWARD.to_bytes(8, "little") + ALICE.public_key
                + (0).to_bytes(4, "little"))
    assert cb1.serialize() == expected


def test_coinbases_of_different_heights_have_different_txids():
    a = make_coinbase(MINER.public_key, 5, REWARD, 0)
    b = make_coinbase(MINER.public_key, 6, REWARD, 0)
    assert a.outputs == b.outputs and a.txid() != b.txid()
    assert make_coinbase(MINER.public_key, 5, REWARD, 0).txid() == a.txid()
    assert make_coinbase(MINER.public_key, 5, REWARD, 10).outputs[0].value == REWARD + 10


def test_make_payment_change_and_errors(chain):
    utxo, cb, h = chain
    tx = make_payment(ALICE, coins_of(cb), BOB.public_key, 20 * COIN, COIN)
    assert [(o.value, o.pubkey) for o in tx.outputs] == [(20 * COIN, BOB.public_key),
                                                          (29 * COIN, ALICE.public_key)]
    exact = make_payment(ALICE, coins_of(cb), BOB.public_key, REWARD - 10, 10)
    assert len(exact.outputs) == 1                                            # no zero change output
    fresh = Wallet.from_seed(bytes(32))
    to_fresh = make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, 0, change_to=fresh.public_key)
    assert to_fresh.outputs[1].pubkey == fresh.public_key
    with pytest.raises(ValueError, match="insufficient"):
        make_payment(ALICE, coins_of(cb), BOB.public_key, REWARD, 1)
    with pytest.raises(ValueError, match="not this wallet"):
        make_payment(BOB, coins_of(cb), CAROL.public_key, COIN, 0)
    with pytest.raises(ValueError):
        make_payment(ALICE, coins_of(cb), BOB.public_key, 0, 0)
    with pytest.raises(ValueError):
        make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, -1)


def test_make_payment_spends_coins_in_order_until_covered():
    utxo = UTXOSet()
    coinbases = [make_coinbase(ALICE.public_key, k, COIN, 0) for k in (1, 2, 3)]
    for k, cb in enumerate(coinbases, start=1):
        utxo.apply_block([cb], k, reward=REWARD)
    mine = utxo.spendable(ALICE.public_key, 3 + COINBASE_MATURITY)
    assert len(mine) == 3
    tx = make_payment(ALICE, mine, BOB.public_key, COIN + 1, 0)
    assert [i.outpoint for i in tx.inputs] == [op for op, _ in mine[:2]]
    assert utxo.check_transaction(tx, 3 + COINBASE_MATURITY) == 0


# -- every rejection ------------------------------------------------------------------------------

def _rejected(utxo, tx, height, expected, **kw):
    with pytest.raises(ValidationError) as e:
        utxo.check_transaction(tx, height, **kw)
    assert reason(e) == expected, str(e.value)
    assert str(e.value)                                                       # says what is wrong
    return str(e.value)


def test_missing_input(chain):
    utxo, cb, h = chain
    ghost = Transaction((TxIn(OutPoint(sha256d(b"nothing"), 0)),), (TxOut(1, BOB.public_key),))
    msg = _rejected(utxo, ALICE.sign_transaction(ghost), h, "missing-input")
    assert "not in the UTXO set" in msg
    wrong_index = Transaction((TxIn(OutPoint(cb.txid(), 1)),), (TxOut(1, BOB.public_key),))
    _rejected(utxo, ALICE.sign_transaction(wrong_index), h, "missing-input")


def test_duplicate_input(chain):
    utxo, cb, h = chain
    op = OutPoint(cb.txid(), 0)
    tx = ALICE.sign_transaction(Transaction((TxIn(op), TxIn(op)), (TxOut(2 * REWARD, BOB.public_key),)))
    _rejected(utxo, tx, h, "duplicate-input")


def test_outputs_exceed_inputs(chain):
    utxo, cb, h = chain
    tx = ALICE.sign_transaction(Transaction((TxIn(OutPoint(cb.txid(), 0)),), (TxOut(REWARD + 1, BOB.public_key),)))
    msg = _rejected(utxo, tx, h, "outputs-exceed-inputs")
    assert f"at most {REWARD}" in msg


@pytest.mark.parametrize("values", [(-1,), (MAX_MONEY + 1,), (MAX_MONEY, 1)])
def test_value_out_of_range(chain, values):
    utxo, cb, h = chain
    outs = tuple(TxOut(v, BOB.public_key) for v in values)
    tx = ALICE.sign_transaction(Transaction((TxIn(OutPoint(cb.txid(), 0)),), outs))
    msg = _rejected(utxo, tx, h, "value-out-of-range")
    assert "MAX_MONEY" in msg


def test_no_inputs_no_outputs_and_coinbase_outside_a_block(chain):
    utxo, cb, h = chain
    _rejected(utxo, Transaction((), (TxOut(1, BOB.public_key),)), h, "no-inputs")
    _rejected(utxo, ALICE.sign_transaction(Transaction((TxIn(OutPoint(cb.txid(), 0)),), ())), h, "no-outputs")
    _rejected(utxo, make_coinbase(MINER.public_key, h, REWARD, 0), h, "unexpected-coinbase")


@pytest.mark.parametrize("maturity", [COINBASE_MATURITY, 1, 3])
def test_coinbase_maturity(maturity):
    utxo = UTXOSet()
    cb = make_coinbase(ALICE.public_key, 4, REWARD, 0)
    utxo.apply_block([cb], 4, reward=REWARD, maturity=maturity)
    tx = make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, 0)
    msg = _rejected(utxo, tx, 4 + maturity - 1, "immature-coinbase", maturity=maturity)
    assert f"spendable from height {4 + maturity}" in msg
    assert utxo.check_transaction(tx, 4 + maturity, maturity=maturity) == 0
    assert utxo.spendable(ALICE.public_key, 4 + maturity - 1, maturity=maturity) == []
    assert len(utxo.spendable(ALICE.public_key, 4 + maturity, maturity=maturity)) == 1
    # in a block, too
    early = block(utxo, 4 + maturity - 1, [tx], maturity=0)
    with pytest.raises(ValidationError) as e:
        utxo.apply_block(early, 4 + maturity - 1, reward=REWARD, maturity=maturity)
    assert reason(e) == "immature-coinbase"
    utxo.apply_block(block(utxo, 4 + maturity, [tx], maturity=maturity), 4 + maturity, reward=REWARD,
                     maturity=maturity)
    assert utxo.balance(BOB.public_key) == COIN


def test_outputs_of_ordinary_transactions_need_no_maturity(chain):
    utxo, cb, h = chain
    pay = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, 0)
    utxo.apply_block(block(utxo, h, [pay]), h, reward=REWARD)
    onward = make_payment(BOB, coins_of(pay)[:1], CAROL.public_key, COIN, 0)
    assert utxo.check_transaction(onward, h + 1) == 0


# -- blocks ----------------------------------------------------------------------------------------

def test_coinbase_may_pay_reward_plus_fees_and_no_more(chain):
    utxo, cb, h = chain
    pay = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, 12345)
    before = utxo.copy()
    with pytest.raises(ValidationError) as e:
        utxo.apply_block(block(utxo, h, [pay], extra=1), h, reward=REWARD)
    assert reason(e) == "bad-coinbase-amount"
    assert f"at most the reward {REWARD} plus the block's fees 12345" in str(e.value)
    assert utxo == before
    utxo.apply_block(block(utxo, h, [pay]), h, reward=REWARD)
    assert utxo.balance(MINER.public_key) == REWARD + 12345


def test_coinbase_paying_less_is_valid(chain):
    utxo, _, h = chain
    utxo.apply_block([make_coinbase(MINER.public_key, h, REWARD - 1, 0)], h, reward=REWARD)
    assert utxo.balance(MINER.public_key) == REWARD - 1


def test_block_structure_rejections(chain):
    utxo, cb, h = chain
    before = utxo.copy()
    pay = make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, 0)
    cases = {
        "no-coinbase": ([], [pay]),
        "bad-coinbase-height": [make_coinbase(MINER.public_key, h + 1, REWARD, 0)],
        "bad-coinbase": [Transaction((TxIn(OutPoint(cb.txid(), 0)),), (TxOut(1, MINER.public_key),), h)],
        "unexpected-coinbase": [make_coinbase(MINER.public_key, h, REWARD, 0),
                                make_coinbase(CAROL.public_key, h, REWARD, 0)],
        "value-out-of-range": [Transaction((), (TxOut(-1, MINER.public_key),), h)],
        "no-outputs": [Transaction((), (), h)],
    }
    for expected, txs in cases.items():
        variants = txs if isinstance(txs, tuple) else (txs,)
        for variant in variants:
            with pytest.raises(ValidationError) as e:
                utxo.apply_block(variant, h, reward=REWARD)
            assert reason(e) == expected, (expected, str(e.value))
    assert utxo == before


def test_duplicate_txid_is_refused(chain):
    utxo, cb, _ = chain
    before = utxo.copy()
    with pytest.raises(ValidationError) as e:
        utxo.apply_transaction(cb, 1)                                         # same coinbase again
    assert reason(e) == "duplicate-txid"
    assert utxo == before


def test_double_spend_within_one_block(chain):
    utxo, cb, h = chain
    to_bob = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, 0)
    to_carol = make_payment(ALICE, coins_of(cb), CAROL.public_key, 10 * COIN, 0)
    before = utxo.copy()
    with pytest.raises(ValidationError) as e:
        utxo.apply_block(block(utxo, h, [to_bob, to_carol]), h, reward=REWARD)
    assert reason(e) == "double-spend"
    assert "already spent in this block" in str(e.value)
    assert utxo == before and utxo.digest() == before.digest()                # atomic


def test_double_spend_across_two_blocks(chain):
    utxo, cb, h = chain
    to_bob = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, 0)
    to_carol = make_payment(ALICE, coins_of(cb), CAROL.public_key, 10 * COIN, 0)
    first = block(utxo, h, [to_bob])
    undo = utxo.apply_block(first, h, reward=REWARD)
    second = [make_coinbase(MINER.public_key, h + 1, REWARD, 0), to_carol]
    after_first = utxo.copy()
    with pytest.raises(ValidationError) as e:
        utxo.apply_block(second, h + 1, reward=REWARD)
    assert reason(e) == "missing-input"
    assert utxo == after_first
    utxo.undo_block(undo)                                                     # a reorganisation
    utxo.apply_block(block(utxo, h, [to_carol]), h, reward=REWARD)
    assert utxo.balance(CAROL.public_key) == 10 * COIN and utxo.balance(BOB.public_key) == 0


def test_chained_spend_inside_one_block(chain):
    utxo, cb, h = chain
    pay = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, 100)
    onward = make_payment(BOB, coins_of(pay)[:1], CAROL.public_key, 4 * COIN, 50)
    original = utxo.copy()
    txs = [make_coinbase(MINER.public_key, h, REWARD, 150), pay, onward]
    undo = utxo.apply_block(txs, h, reward=REWARD)
    assert utxo.balance(CAROL.public_key) == 4 * COIN
    assert OutPoint(pay.txid(), 0) not in utxo
    utxo.undo_block(undo)
    assert utxo == original


def test_apply_then_undo_restores_the_set_exactly(chain):
    utxo, cb, h = chain
    original, snapshot = utxo.copy(), utxo.snapshot()
    pay = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, COIN)
    undo1 = utxo.apply_block(block(utxo, h, [pay]), h, reward=REWARD)
    assert isinstance(undo1, BlockUndo) and undo1.height == h
    after1 = utxo.copy()
    onward = make_payment(BOB, coins_of(pay)[:1], CAROL.public_key, COIN, 0)
    undo2 = utxo.apply_block(block(utxo, h + 1, [onward]), h + 1, reward=REWARD)
    assert utxo.get(OutPoint(cb.txid(), 0)) is None
    with pytest.raises(ValueError):
        utxo.undo_block(undo1)                                                # out of order: refused
    assert utxo.balance(CAROL.public_key) == COIN                             # ... and nothing changed
    utxo.undo_block(undo2)
    assert utxo == after1
    utxo.undo_block(undo1)
    assert utxo == original and utxo.snapshot() == snapshot and utxo.digest() == original.digest()
    assert utxo.get(OutPoint(cb.txid(), 0)) == Coin(cb.outputs[0], 1, True)
    assert utxo.check_transaction(pay, h) == COIN                             # spendable again
    with pytest.raises(ValueError):
        utxo.undo_block(undo1)                                                # twice: refused


def test_failed_block_leaves_the_set_unchanged(chain):
    utxo, cb, h = chain
    good = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, 0)
    bad = Transaction((TxIn(OutPoint(sha256d(b"x"), 0), bytes(64)),), (TxOut(1, BOB.public_key),))
    before = utxo.snapshot()
    with pytest.raises(ValidationError) as e:
        utxo.apply_block([make_coinbase(MINER.public_key, h, REWARD, 0), good, bad], h, reward=REWARD)
    assert reason(e) == "missing-input"
    assert utxo.snapshot() == before


def test_apply_transaction_and_undo_transaction(chain):
    utxo, cb, h = chain
    before = utxo.copy()
    pay = make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, 0)
    undo = utxo.apply_transaction(pay, h)
    assert utxo.balance(BOB.public_key) == COIN
    with pytest.raises(ValidationError) as e:
        utxo.apply_transaction(pay, h)
    assert reason(e) == "missing-input"
    utxo.undo_transaction(undo)
    assert utxo == before


# -- comparing sets ----------------------------------------------------------------------------------

def test_snapshot_is_canonical_and_round_trips(chain):
    utxo, cb, h = chain
    pay = make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, 0)
    utxo.apply_block(block(utxo, h, [pay]), h, reward=REWARD)
    reordered = UTXOSet(dict(reversed(list(utxo.items()))))
    assert reordered.snapshot() == utxo.snapshot() and reordered.digest() == utxo.digest()
    assert UTXOSet.from_snapshot(utxo.snapshot()) == utxo
    assert utxo.digest() == sha256d(utxo.snapshot())
    other = utxo.copy()
    op = next(iter(other))
    coin = other.coins[op]
    other.coins[op] = Coin(coin.txout, coin.height, not coin.is_coinbase)
    assert other.digest() != utxo.digest()
    with pytest.raises(ValueError):
        UTXOSet.from_snapshot(utxo.snapshot() + b"\0")


def test_copy_is_independent_and_balance_sums_coins(chain):
    utxo, cb, h = chain
    clone = utxo.copy()
    pay = make_payment(ALICE, coins_of(cb), BOB.public_key, 10 * COIN, 0)
    clone.apply_transaction(pay, h)
    assert utxo.balance(ALICE.public_key) == REWARD and clone.balance(ALICE.public_key) == 40 * COIN
    assert clone.balance(BOB.public_key) == 10 * COIN and utxo.balance(BOB.public_key) == 0


# -- mempool -------------------------------------------------------------------------------------------

@pytest.fixture
def rich():
    """Alice holds three mature coinbase coins of 50 coins each."""
    utxo = UTXOSet()
    cbs = [make_coinbase(ALICE.public_key, k, REWARD, 0) for k in (1, 2, 3)]
    for k, cb in enumerate(cbs, start=1):
        utxo.apply_block([cb], k, reward=REWARD)
    return utxo, cbs, 3 + COINBASE_MATURITY


def test_mempool_admits_and_selects_by_fee(rich):
    utxo, cbs, h = rich
    pool = Mempool()
    fees = [300, 100, 200]
    txs = [make_payment(ALICE, coins_of(cb), BOB.public_key, COIN, f) for cb, f in zip(cbs, fees)]
    assert [pool.add(t, utxo, h) for t in txs] == fees
    assert len(pool) == 3 and all(t.txid() in pool for t in txs)
    assert pool.select(2) == [txs[0], txs[2]]
    assert pool.select(10) == [txs[0], txs[2], txs[1]]
    assert pool.select(0) == []
    utxo.apply_block(block(utxo, h, pool.select(10)), h, reward=REWARD)      # valid together


def test_mempool_rejections(rich):
    utxo, cbs, h = rich
    pool = Mempool()
    tx = make_payment(ALICE, coins_of(cbs[0]), BOB.public_key, COIN, 10)
    pool.add(tx, utxo, h)
    cases = [
        ("already-in-mempool", tx),
        ("mempool-conflict", make_payment(ALICE, coins_of(cbs[0]), CAROL.public_key, COIN, 99)),
        ("unexpected-coinbase", make_coinbase(MINER.public_key, h, REWARD, 0)),
        ("missing-input", make_payment(BOB, coins_of(tx)[:1], CAROL.public_key, COIN // 2, 0)),  # unconfirmed
        ("outputs-exceed-inputs", ALICE.sign_transaction(Transaction((TxIn(OutPoint(cbs[1].txid(), 0)),),
                                                                     (TxOut(REWARD + 1, BOB.public_key),)))),
    ]
    for expected, bad in cases:
        with pytest.raises(ValidationError) as e:
            pool.add(bad, utxo, h)
        assert reason(e) == expected, (expected, str(e.value))
    assert pool.transactions() == [tx]
    immature = make_coinbase(ALICE.public_key, h, REWARD, 0)
    utxo.apply_transaction(immature, h)
    with pytest.raises(ValidationError) as e:
        pool.add(make_payment(ALICE, coins_of(immature), BOB.public_key, COIN, 0), utxo, h + 1)
    assert reason(e) == "immature-coinbase"
    assert Mempool(maturity=1).add(make_payment(ALICE, coins_of(immature), BOB.public_key, COIN, 0), utxo, h + 1) == 0


def test_mempool_unconfirmed_parent_message(rich):
    utxo, cbs, h = rich
    pool = Mempool()
    parent = make_payment(ALICE, coins_of(cbs[0]), BOB.public_key, COIN, 0)
    pool.add(parent, utxo, h)
    with pytest.raises(ValidationError, match="unconfirmed"):
        pool.add(make_payment(BOB, coins_of(parent)[:1], CAROL.public_key, 1, 0), utxo, h)


def test_mempool_drops_conflicts_after_a_block_and_readds_after_undo(rich):
    utxo, cbs, h = rich
    pool = Mempool()
    in_pool = make_payment(ALICE, coins_of(cbs[0]), BOB.public_key, COIN, 10)      # will conflict
    kept = make_payment(ALICE, coins_of(cbs[1]), BOB.public_key, COIN, 20)          # will be mined
    untouched = make_payment(ALICE, coins_of(cbs[2]), CAROL.public_key, COIN, 30)
    for t in (in_pool, kept, untouched):
        pool.add(t, utxo, h)
    rival = make_payment(ALICE, coins_of(cbs[0]), CAROL.public_key, 2 * COIN, 5)    # spends in_pool's coin
    txs = block(utxo, h, [rival, kept])
    undo = utxo.apply_block(txs, h, reward=REWARD)
    dropped = pool.remove_for_block(txs, utxo, h)
    assert dropped == [in_pool]
    assert pool.transactions() == [untouched]
    # a child of the mined rival is now admissible (its parent is confirmed)
    child = make_payment(CAROL, coins_of(rival)[:1], BOB.public_key, COIN, 1)
    pool.add(child, utxo, h + 1)
    # reorganisation: the block is disconnected
    utxo.undo_block(undo)
    readded = pool.readd(txs, utxo, h)
    assert readded == [rival, kept]                                                 # coinbase skipped
    assert child.txid() not in pool                                                 # its parent is unconfirmed again
    assert set(t.txid() for t in pool.transactions()) == {rival.txid(), kept.txid(), untouched.txid()}
    assert pool.select(10) == [untouched, kept, rival]
    utxo.apply_block(block(utxo, h, pool.select(10)), h, reward=REWARD)


def test_readd_skips_transactions_invalid_on_the_new_branch(rich):
    utxo, cbs, h = rich
    pool = Mempool()
    old = make_payment(ALICE, coins_of(cbs[0]), BOB.public_key, COIN, 10)
    txs = block(utxo, h, [old])
    undo = utxo.apply_block(txs, h, reward=REWARD)
    pool.remove_for_block(txs, utxo, h)
    utxo.undo_block(undo)
    new_branch = block(utxo, h, [make_payment(ALICE, coins_of(cbs[0]), CAROL.public_key, COIN, 1)])
    utxo.apply_block(new_branch, h, reward=REWARD)
    pool.remove_for_block(new_branch, utxo, h)
    assert pool.readd(txs, utxo, h + 1) == []                                       # its coin is spent there
    assert len(pool) == 0
