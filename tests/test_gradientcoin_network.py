"""GradientCoin peers on the seeded event network and over threads: agreement, forks and
reorganisations, double spends across a partition, forged blocks, payload inspection, the SQLite
node (kill, restart, corruption), the CLI, and the whitepaper's attacker race. Written like
Bitcoin Core's functional tests: a small network, one scenario per test."""

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from pyprivml.protocols.gradientcoin import payload, pow as proof
from pyprivml.protocols.gradientcoin.attack import (
    WHITEPAPER_TABLE, attacker_success_probability, simulate_attacker_race,
)
from pyprivml.protocols.gradientcoin.chain import build_block
from pyprivml.protocols.gradientcoin.network import EventNetwork, Partition
from pyprivml.protocols.gradientcoin.run import (
    EASY_BITS, GradientCoinConfig, make_objective, make_params, make_peer, make_peers, run_network, simulate,
    wallet_of,
)
from pyprivml.protocols.gradientcoin.store import ChainStore, StoreCorrupted
from pyprivml.protocols.gradientcoin.tx import make_payment
from pyprivml.protocols.gradientcoin.wire import MESSAGE_KINDS, decode_block, encode_block

CFG = GradientCoinConfig(peers=6, loss="ridge", height=25, seed=3, bits=EASY_BITS, maturity=2, payment=0.3)


def _agree(peers):
    ps = list(peers.values())
    for key in ("tip", "utxo", "model"):
        assert len({p.summary()[key] for p in ps}) == 1, key
    return ps[0]


def _included(peer, txid) -> bool:
    return any(tx.txid() == txid for h in range(1, peer.chain.height + 1) for tx in peer.chain.block_at(h).transactions)


# ---- the network agrees, forks and reorganises, deterministically -------------------------------------

def test_six_peers_agree_after_forks_reorganisations_and_payments():
    net = simulate(CFG, delay=0.3, jitter=0.3, block_time=1.0)
    p = _agree(net.peers)
    assert p.chain.height >= CFG.height
    assert sum(len(q.chain.reorganisations) for q in net.peers.values()) > 0          # forks happened
    assert sum(len(p.chain.block_at(h).transactions) - 1 for h in range(1, p.chain.height + 1)) > 0   # coins moved
    assert all(not q.stats.rejected for q in net.peers.values())                       # no honest block refused
    # the model is x0 + the updates of the best chain, and the loss went down
    x = np.zeros(len(p.chain.x))
    models = dict(p.chain.models())                        # x_h from the undo data, every height
    assert np.array_equal(models[0], x)
    for h in range(1, p.chain.height + 1):
        b = p.chain.block_at(h)
        x = x + payload.desketched(b.update, b.header.prev_hash)
        assert np.array_equal(models[h], x)
    assert np.array_equal(x, p.chain.model())
    L = make_objective("ridge", CFG.seed)
    assert L.value(x) < 0.2 * L.value(np.zeros_like(x))
    again = simulate(CFG, delay=0.3, jitter=0.3, block_time=1.0)
    assert again.peers[0].chain.tip == p.chain.tip                                     # seeded: replayable


def test_user_level_dp_noises_and_accounts_every_published_update():
    cfg = CFG.replace(height=8, dp=(0.5, 1.0, 1e-5), payment=0.0)
    net = simulate(cfg, delay=0.1, jitter=0.1)
    p = _agree(net.peers)
    from pyprivml.dp import ClippedGaussian, PrivacyAccountant

    z = ClippedGaussian(0.5, 1.0, 1e-5).noise_multiplier
    for q in net.peers.values():
        direct = PrivacyAccountant("rdp")
        if q.stats.mined:
            direct.add_gaussian(z, steps=q.stats.mined)   # one release per published block, stale ones too
        assert q.summary()["epsilon"] == pytest.approx(direct.epsilon(1e-5) if q.stats.mined else 0.0)
    # a block's step is the noised, clipped update: not the noiseless local steps
    b = p.chain.block_at(1)
    assert np.linalg.norm(payload.desketched(b.update, b.header.prev_hash)) <= p.params.rules.max_update_norm


@pytest.mark.parametrize("sketch", [None, ("countsketch", 4)])
def test_lossy_links_and_a_healed_partition_still_converge(sketch):
    cfg = CFG if sketch is None else CFG.replace(sketch=sketch[0], b=sketch[1])
    net = simulate(cfg, delay=0.1, jitter=0.2, loss=0.2, block_time=1.0,
                   partitions=[Partition(5.0, 20.0, ({0, 1, 2}, {3, 4, 5}))])
    assert net.lost > 0
    _agree(net.peers)


# ---- double spends --------------------------------------------------------------------------------------

def _network_with_coins(hashrates=None, partitions=()):
    cfg = CFG.replace(payment=0.0)
    peers = make_peers(cfg)
    net = EventNetwork(peers, seed=5, delay=0.05, jitter=0.05, block_time=1.0, hashrates=hashrates,
                       partitions=list(partitions))
    net.run(until_height=8)
    _agree(net.peers)
    return cfg, net


def _partition_with_a_stronger_side(net, seconds):
    """From now for ``seconds``: peers {0, 1, 2} and {3, 4, 5} cut apart, the second side with three
    times the hash power (so it wins when the partition heals)."""
    start = net.now
    net.partitions.append(Partition(start, start + seconds, ({0, 1, 2}, {3, 4, 5})))
    net.hashrates = {r: (1.0 if r < 3 else 3.0) * net.hashrates[r] for r in net.peers}
    for r in net.peers:
        net._schedule_mining(r)
    return start


def _offer(net, rank, tx):
    """Peer ``rank`` admits ``tx`` to its mempool and announces it."""
    peer = net.peers[rank]
    peer.chain.mempool.add(tx, peer.chain.utxo, peer.chain.height + 1)
    net.send(rank, peer._announce("tx", tx.txid()))


def _coin_of(peer):
    height = peer.chain.height + 1
    return peer.chain.utxo.spendable(peer.wallet.public_key, height, maturity=peer.params.maturity)[:1]


def test_double_spend_across_a_partition_is_undone_by_the_reorganisation():
    """Peer 0 spends one coin twice, paying peer 1 on one side of a partition and peer 4 on the
    other. The side with three times the hash power wins when the partition heals: its spend
    stands, the other side's block is disconnected, and its payment is not re-admitted (its coin
    is spent), exactly as the rules say."""
    cfg, net = _network_with_coins()
    spender = net.peers[0]
    coin = _coin_of(spender)
    assert coin, "peer 0 mined nothing mature in the set-up"
    to_small = make_payment(spender.wallet, coin, wallet_of(1, cfg.seed).public_key, 10**8, 1000)
    to_big = make_payment(spender.wallet, coin, wallet_of(4, cfg.seed).public_key, 10**8, 1000)
    start = _partition_with_a_stronger_side(net, 30)
    _offer(net, 1, to_small)
    _offer(net, 4, to_big)
    net.run(until_height=10_000, max_time=start + 29)         # during the partition: both spends confirm
    assert _included(net.peers[1], to_small.txid()) and not _included(net.peers[1], to_big.txid())
    assert _included(net.peers[4], to_big.txid()) and not _included(net.peers[4], to_small.txid())
    heal_height = max(p.chain.height for p in net.peers.values())
    net.run(until_height=heal_height + 2)
    p = _agree(net.peers)
    assert _included(p, to_big.txid()) and not _included(p, to_small.txid())
    assert to_small.txid() not in p.chain.mempool                 # its coin is spent on the winning branch
    assert any(depth > 0 for _, depth in net.peers[1].chain.reorganisations)


def test_a_payment_undone_by_a_reorganisation_returns_to_the_mempool_and_confirms_again():
    cfg, net = _network_with_coins()
    spender = net.peers[0]
    tx = make_payment(spender.wallet, _coin_of(spender), wallet_of(1, cfg.seed).public_key, 10**8, 1000)
    start = _partition_with_a_stronger_side(net, 20)
    _offer(net, 1, tx)
    net.run(until_height=10_000, max_time=start + 19)
    assert _included(net.peers[1], tx.txid()) and not _included(net.peers[4], tx.txid())
    net.run(until_height=max(p.chain.height for p in net.peers.values()) + 6)
    p = _agree(net.peers)
    assert _included(p, tx.txid())              # re-admitted after the reorganisation, mined again
    assert p.chain.utxo.balance(wallet_of(1, cfg.seed).public_key) >= 10**8


# ---- forged blocks are refused by every rule, and never relayed ---------------------------------------

def _honest(seed=3):
    cfg = CFG.replace(payment=0.0)
    peer = make_peer(0, cfg)
    return cfg, peer


def _mined(block):
    return dataclasses.replace(block, header=proof.mine(block.header))


def _forgeries(peer):
    chain, miner = peer.chain, peer.wallet.public_key
    now = chain.index[chain.tip].header.time + 10
    good = peer.candidate(now)
    rules = chain.params.rules
    big = payload.make_update(np.full(rules.d, 10 * rules.max_update_norm), prev_hash=chain.tip)
    other_parent = payload.make_update(np.zeros(rules.d), prev_hash=bytes(32))
    coinbase_too_big = build_block(chain, miner, good.update, time=now)
    tx0 = coinbase_too_big.transactions[0]
    rich = dataclasses.replace(tx0, outputs=(dataclasses.replace(tx0.outputs[0], value=tx0.outputs[0].value + 1),))
    from pyprivml.protocols.gradientcoin import merkle

    rich_block = dataclasses.replace(coinbase_too_big, transactions=(rich,), header=dataclasses.replace(
        coinbase_too_big.header, merkle_root=merkle.merkle_root([rich.txid()])))
    unmined = good.header
    while unmined.meets_target():
        unmined = unmined.with_nonce(unmined.nonce + 1)
    return {
        "bad-payload-hash": _mined(dataclasses.replace(good, update=payload.make_update(
            good.update.values * 0.5, prev_hash=chain.tip))),
        "bad-payload": _mined(build_block(chain, miner, big, time=now)),                 # over the norm bound
        "bad-merkle-root": _mined(dataclasses.replace(good, transactions=good.transactions * 2)),
        "bad-proof-of-work": dataclasses.replace(good, header=unmined),
        "bad-bits": _mined(dataclasses.replace(good, header=dataclasses.replace(good.header, bits=0x1F00FFFF))),
        "bad-time": _mined(dataclasses.replace(good, header=dataclasses.replace(good.header, time=now + 10**6))),
        "bad-time ": _mined(dataclasses.replace(good, header=dataclasses.replace(      # not above the median past
            good.header, time=chain.index[chain.tip].header.time))),
        "bad-cb-amount": _mined(rich_block),
        "wrong-sketch-seed": other_parent,
    }


def test_every_forged_block_is_refused_counted_and_not_relayed():
    cfg, peer = _honest()
    tip = peer.tip
    now = peer.chain.index[tip].header.time + 10          # the node's clock
    for reason, forged in _forgeries(peer).items():
        if reason == "wrong-sketch-seed":
            continue        # a payload, checked below under a sketching chain
        before = dict(peer.stats.rejected)
        out = peer.receive(1, ("block", encode_block(forged)), now=now)
        assert out == [] and peer.tip == tip, reason
        got = {k: v - before.get(k, 0) for k, v in peer.stats.rejected.items() if v != before.get(k, 0)}
        assert len(got) == 1, (reason, got)
        if reason != "bad-cb-amount":
            assert reason.strip() in got, (reason, got)
    assert peer.receive(1, ("block", b"\x00" * 50)) == [] and peer.stats.rejected["malformed-block"] == 1


def test_a_sketch_built_for_another_parent_is_refused():
    cfg = CFG.replace(sketch="countsketch", b=4, payment=0.0)
    peer = make_peer(0, cfg)
    now = peer.chain.index[peer.tip].header.time + 10
    honest = peer.candidate(now)
    wrong = payload.make_update(np.ones(peer.params.rules.d) * 1e-3, prev_hash=bytes(32), kind="countsketch", b=4)
    forged = _mined(build_block(peer.chain, peer.wallet.public_key, wrong, time=now))
    assert peer.receive(1, ("block", encode_block(forged)), now=now) == []
    assert peer.stats.rejected["bad-payload"] == 1
    assert peer.receive(1, ("block", encode_block(_mined(honest))), now=now)       # the honest one is relayed
    assert peer.chain.height == 1


def test_unknown_messages_are_refused_clearly():
    _, peer = _honest()
    with pytest.raises(ValueError, match="not a GradientCoin message"):
        peer.receive(1, ("hello", b""))
    with pytest.raises(ValueError, match="truncated block"):
        decode_block(encode_block(peer.chain.block_at(0))[:-3])


# ---- nothing crosses but blocks, transactions and hashes ------------------------------------------------

def test_payloads_on_the_wire_are_only_protocol_messages_without_private_data():
    net = simulate(CFG.replace(height=10), delay=0.1, jitter=0.1)
    _agree(net.peers)
    objective = make_objective("ridge", CFG.seed)
    secrets = [bytes(part.X.tobytes()[:64]) for part in objective.split(CFG.peers, seed=CFG.seed)]
    kinds = set()
    for _, src, dst, message in net.delivered:
        kinds.add(message[0])
        assert message[0] in MESSAGE_KINDS and message[0] not in ("final", "stop")
        blob = repr(message).encode()
        assert not any(s in blob for s in secrets)
        if message[0] == "block":
            block = decode_block(message[1])             # a block is header + transactions + update
            assert encode_block(block) == message[1]
        elif message[0] in ("inv", "getdata"):
            assert message[1] in ("block", "tx") and all(isinstance(h, bytes) and len(h) == 32 for h in message[2])
    assert {"inv", "getdata", "block", "getblocks"} <= kinds


# ---- the SQLite node --------------------------------------------------------------------------------------

def test_a_crashed_peer_restarts_from_its_database_and_ends_on_the_same_tip(tmp_path):
    cfg = CFG.replace(height=30)
    objective = make_objective(cfg.loss, cfg.seed)
    params = make_params(cfg, objective)
    peers = {r: make_peer(r, cfg, objective=objective, params=params, db_dir=tmp_path) for r in range(cfg.peers)}
    net = EventNetwork(peers, seed=7, delay=0.1, jitter=0.1, block_time=1.0)
    restored = {}

    def factory():
        p = make_peer(2, cfg, objective=objective, params=params, db_dir=tmp_path)
        restored.update(tip=p.chain.tip, height=p.chain.height, utxo=p.chain.utxo.digest(), x=p.chain.model())
        return p

    net.crash(2, at=10.0, restart_at=20.0, factory=factory)
    net.run(until_height=cfg.height)
    before = net.crashed[2].chain                  # what it held in memory when it was killed
    assert restored["height"] >= 3 and restored["tip"] == before.tip
    assert restored["utxo"] == before.utxo.digest() and np.array_equal(restored["x"], before.x)
    p = _agree(net.peers)
    assert net.peers[2].chain.tip == p.chain.tip and p.chain.height >= cfg.height


def _saved_chain(tmp_path, blocks=6):
    cfg = CFG.replace(payment=0.0)
    peer = make_peer(0, cfg, db_dir=tmp_path)
    now = peer.chain.index[peer.tip].header.time
    for _ in range(blocks):
        now += 10
        peer.found(_mined(peer.candidate(now)), now=now)
    peer.store.close()
    return cfg, peer, tmp_path / "peer0.sqlite"


def test_store_round_trip_and_every_kind_of_damage_is_reported(tmp_path):
    cfg, peer, path = _saved_chain(tmp_path)
    again = make_peer(0, cfg, db_dir=tmp_path)
    assert again.summary()["tip"] == peer.summary()["tip"] and again.summary()["model"] == peer.summary()["model"]
    again.store.close()
    params = peer.params
    # a block's bytes changed
    db = sqlite3.connect(path)
    data = db.execute("SELECT data FROM blocks WHERE height = 3").fetchone()[0]
    db.execute("UPDATE blocks SET data = ? WHERE height = 3", (data[:-1] + bytes([data[-1] ^ 1]),))
    db.commit()
    db.close()
    with pytest.raises(StoreCorrupted, match="block #"):
        ChainStore(path).load(params)
    # the saved state does not match the blocks
    cfg, peer, path = _saved_chain(tmp_path / "b")
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'model'", (bytes(32),))
    db.commit()
    db.close()
    with pytest.raises(StoreCorrupted, match="model does not match"):
        ChainStore(path).load(peer.params)
    # another chain's database
    other = make_params(cfg.replace(bits=0x207FFFFE), make_objective(cfg.loss, cfg.seed))
    with pytest.raises(StoreCorrupted, match="another chain"):
        ChainStore(path).load(other)
    # a truncated file, and a file that is not a database
    cfg, peer, path = _saved_chain(tmp_path / "c")
    for p in path.parent.glob("peer0.sqlite-*"):
        p.unlink()
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(StoreCorrupted):
        ChainStore(path).load(peer.params)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreCorrupted, match="not a usable GradientCoin database|damaged"):
        ChainStore(path).load(peer.params)


def test_a_node_killed_with_sigkill_leaves_a_consistent_database(tmp_path):
    """A real process keeps mining and saving; SIGKILL at a random moment; the database then
    loads (every block validated, state digests matching) at the height reached."""
    script = tmp_path / "node.py"
    script.write_text(textwrap.dedent(f"""
        import dataclasses, sys
        from pyprivml.protocols.gradientcoin import pow as proof
        from pyprivml.protocols.gradientcoin.run import GradientCoinConfig, make_peer
        cfg = GradientCoinConfig(peers=6, loss="ridge", seed=3, bits={EASY_BITS}, maturity=2, payment=0.0)
        peer = make_peer(0, cfg, db_dir={str(tmp_path)!r})
        now = peer.chain.index[peer.tip].header.time
        while True:
            now += 10
            block = peer.candidate(now)
            peer.found(dataclasses.replace(block, header=proof.mine(block.header)), now=now)
            print(peer.chain.height, flush=True)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    heights = []
    deadline = time.monotonic() + 60
    while len(heights) < 15 and time.monotonic() < deadline:
        heights.append(int(proc.stdout.readline()))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(heights) >= 15
    cfg = GradientCoinConfig(peers=6, loss="ridge", seed=3, bits=EASY_BITS, maturity=2, payment=0.0)
    peer = make_peer(0, cfg, db_dir=tmp_path)
    assert peer.chain.height >= heights[-1]           # everything it reported was committed


# ---- threads: the same loop as under mpiexec ---------------------------------------------------------

def test_the_transport_loop_in_threads_agrees_and_reports():
    cfg = GradientCoinConfig(peers=3, loss="logistic", height=6, seed=1, bits=0x1F00FFFF, maturity=2, timeout=60)
    summary, res = run_network(cfg, transport="inprocess", record_payloads=True)
    assert summary.agreed and summary.peers[0]["height"] >= 6
    assert summary.history[-1][1] < summary.history[0][1]
    for t in res.transports:
        for _, _, _, message in t.log.sent:
            assert message[0] in MESSAGE_KINDS


# ---- the attacker race (whitepaper §11) -------------------------------------------------------------------

def test_the_analytic_formula_reproduces_the_whitepapers_table():
    for q, row in WHITEPAPER_TABLE.items():
        for z, want in row.items():
            assert round(attacker_success_probability(q, z), 7) == want, (q, z)
    assert attacker_success_probability(0.5, 10) == 1.0
    with pytest.raises(ValueError, match="hash share q"):
        attacker_success_probability(1.0, 3)
    with pytest.raises(ValueError, match="confirmations"):
        attacker_success_probability(0.1, -1)


@pytest.mark.parametrize("q,z", [(0.1, 1), (0.1, 3), (0.3, 5), (0.3, 10)])
def test_the_simulated_race_matches_the_exact_negative_binomial_race(q, z):
    trials = 100_000
    sim = simulate_attacker_race(q, z, trials, seed=z)
    exact = attacker_success_probability(q, z, model="negative-binomial")
    assert abs(sim - exact) < 5 * np.sqrt(exact * (1 - exact) / trials) + 1e-4
    if z >= 2:                    # beyond one confirmation the paper's Poisson approximation is optimistic
        assert exact > attacker_success_probability(q, z)


# ---- the command line ------------------------------------------------------------------------------------

def test_cli_toy_in_process_and_clear_errors(capsys, tmp_path):
    from pyprivml.cli import main

    assert main(["train", "gradientcoin", "--toy", "--height", "3", "--transport", "inprocess", "--no-progress"]) == 0
    assert "equals centralised gradient descent bit for bit" in capsys.readouterr().out
    assert main(["train", "gradientcoin", "--transport", "simulated", "--no-progress"]) == 2
    assert "event network" in capsys.readouterr().err
    assert main(["train", "gradientcoin", "--sketch", "ams", "--no-progress", "--transport", "inprocess"]) == 2
    assert "--b" in capsys.readouterr().err
    assert main(["train", "gradientcoin", "--peers", "3", "--height", "3", "--difficulty", "0x1f00ffff",
                 "--dp", "1.0,1.0,1e-5", "--transport", "inprocess", "--no-progress", "--payment", "0"]) == 0
    assert "user-level DP: ε up to" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "gradientcoin", "--dp", "1.0,0,1e-5"])
    capsys.readouterr()
    assert main(["chain", "show", str(tmp_path / "missing.sqlite")]) == 2
    assert "no GradientCoin database" in capsys.readouterr().err
