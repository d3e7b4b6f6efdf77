"""GradientCoin (issue 11): block validation throughput and the sync time of a fresh peer.

Run:  .venv/bin/python -m pytest benchmarks/test_bench_gradientcoin_chain.py --benchmark-only \
          --benchmark-columns=median,iqr,rounds
Quick mode (what ``make test`` runs, with ``--benchmark-disable``): PYPRIVML_BENCH_QUICK=1.
``PYPRIVML_BENCH_GC_BLOCKS`` sets the chain length (default 2000; quick 40).

One chain is built per module: the ridge objective (d = 10), regtest difficulty, each block
carrying its coinbase, one Ed25519-signed payment (from the block after coinbase maturity on)
and a model update. Groups:

* ``gradientcoin validate {n} blocks``: a fresh :class:`Chain` connecting the n blocks in order
  (proof of work, Merkle root, payload rules, signatures, UTXO updates, model updates, undo
  data). Baseline: the whole validation. Parts: decoding the blocks' bytes only; verifying the
  payments' signatures only (``cryptography``'s Ed25519). ``extra_info`` has blocks per second.
* ``gradientcoin sync {n} blocks``: a fresh peer catching up from a peer that holds the chain,
  through the real messages (getblocks → inv → getdata → block, decode, validate, relay
  bookkeeping) with no network delay; and a node restarting from its SQLite database
  (:meth:`ChainStore.load`, which replays and validates every block) — against the same chain's
  plain validation.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from pyprivml.protocols.gradientcoin import pow as proof
from pyprivml.protocols.gradientcoin.chain import Chain
from pyprivml.protocols.gradientcoin.run import EASY_BITS, GradientCoinConfig, make_peer, wallet_of
from pyprivml.protocols.gradientcoin.store import ChainStore
from pyprivml.protocols.gradientcoin.tx import verify_signature
from pyprivml.protocols.gradientcoin.wire import decode_block, encode_block

QUICK = os.environ.get("PYPRIVML_BENCH_QUICK", "") not in ("", "0")
BLOCKS = int(os.environ.get("PYPRIVML_BENCH_GC_BLOCKS", 40 if QUICK else 2000))
ROUNDS = 2 if QUICK else 5
CFG = GradientCoinConfig(peers=2, loss="ridge", seed=0, bits=EASY_BITS, maturity=2, payment=0.0)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(the miner peer, its blocks' bytes, the database it wrote)."""
    db = tmp_path_factory.mktemp("gc")
    peer = make_peer(0, CFG, db_dir=db)
    other = wallet_of(1, 0).public_key
    now = peer.chain.index[peer.tip].header.time
    for _ in range(BLOCKS):
        now += 10
        peer.pay(other, 10_000, fee=100)
        block = peer.candidate(now)
        peer.found(dataclasses.replace(block, header=proof.mine(block.header)), now=now)
    assert peer.chain.height == BLOCKS
    data = [encode_block(peer.chain.block_at(h)) for h in range(1, BLOCKS + 1)]
    assert sum(len(peer.chain.block_at(h).transactions) for h in range(1, BLOCKS + 1)) > BLOCKS
    peer.store.close()
    return peer, data, db / "peer0.sqlite"


def _validate(params, blocks):
    chain = Chain(params)
    for b in blocks:
        chain.submit(b)
    return chain


def test_validate(benchmark, timed, built):
    peer, data, _ = built
    blocks = [decode_block(d) for d in data]
    benchmark.group = f"gradientcoin validate {BLOCKS} blocks"
    chain = timed(benchmark, lambda: _validate(peer.params, blocks), rounds=ROUNDS, warmup=0, baseline=True,
                  what="Chain.submit of every block (all rules, coins, model, undo)", blocks=BLOCKS)
    assert chain.tip == peer.chain.tip


def test_validate_part_decode(benchmark, timed, built):
    _, data, _ = built
    benchmark.group = f"gradientcoin validate {BLOCKS} blocks"
    timed(benchmark, lambda: [decode_block(d) for d in data], rounds=ROUNDS, warmup=0,
          what="part: decode_block of every block's bytes", blocks=BLOCKS)


def test_validate_part_signatures(benchmark, timed, built):
    peer, _, _ = built
    benchmark.group = f"gradientcoin validate {BLOCKS} blocks"
    chain = peer.chain
    sigs = []
    for h in range(1, BLOCKS + 1):
        for tx in chain.block_at(h).transactions[1:]:
            sigs += [(peer.wallet.public_key, txin.signature, tx.digest()) for txin in tx.inputs]

    def verify():
        return all(verify_signature(k, s, m) for k, s, m in sigs)

    assert timed(benchmark, verify, rounds=ROUNDS, warmup=0, what="part: Ed25519 verify of every input",
                 signatures=len(sigs))


def _sync(source, fresh):
    """Drive the real message exchange between two peers until ``fresh`` has caught up."""
    queue = fresh.sync(source.rank)
    while queue:
        dest, message = queue.pop(0)
        if dest == source.rank:
            queue += source.receive(fresh.rank, message)
        else:
            queue += [m for m in fresh.receive(source.rank, message) if m[0] == source.rank]
        if not queue and fresh.chain.tip != source.chain.tip:
            queue = fresh.sync(source.rank)
    return fresh


def test_sync_fresh_peer(benchmark, timed, built):
    peer, _, _ = built
    benchmark.group = f"gradientcoin sync {BLOCKS} blocks"
    source = make_peer(0, CFG)
    source.chain = peer.chain
    source.chain.mempool.entries.clear()
    out = timed(benchmark, lambda: _sync(source, make_peer(1, CFG)), rounds=ROUNDS, warmup=0,
                what="fresh peer: getblocks/inv/getdata/block, decode, validate", blocks=BLOCKS)
    assert out.chain.tip == peer.chain.tip


def test_sync_restart_from_sqlite(benchmark, timed, built):
    peer, _, path = built
    benchmark.group = f"gradientcoin sync {BLOCKS} blocks"

    def restart():
        store = ChainStore(path)
        try:
            return store.load(peer.params)
        finally:
            store.close()

    chain = timed(benchmark, restart, rounds=ROUNDS, warmup=0,
                  what="restart: ChainStore.load (integrity check, replay, validate)", blocks=BLOCKS)
    assert chain.tip == peer.chain.tip


def test_sync_baseline_validation(benchmark, timed, built):
    peer, data, _ = built
    blocks = [decode_block(d) for d in data]
    benchmark.group = f"gradientcoin sync {BLOCKS} blocks"
    timed(benchmark, lambda: _validate(peer.params, blocks), rounds=ROUNDS, warmup=0, baseline=True,
          what="the same blocks validated in memory (no messages, no database)", blocks=BLOCKS)
