"""Seed 002 §4.1-§4.2 and appendix B.1-B.2 (Bitcoin's proof of work): sha256d, compact targets,
block work, headers, mining, retargeting, block-time rules, and the Merkle tree
(CVE-2012-2459). Vectors marked "Bitcoin Core" are from its arith_uint256_tests.cpp and
pow_tests.cpp; the genesis block is Bitcoin's real block 0."""

import dataclasses
import hashlib
import random

import pytest

from pyprivml.protocols.gradientcoin import merkle, pow as proof
from pyprivml.protocols.gradientcoin.merkle import (MerkleProof, leaf_hash, merkle_proof, merkle_root, node_hash,
                                                    verify_proof)
from pyprivml.protocols.gradientcoin.pow import (BlockHeader, bitcoin_header_bytes, block_work, check_block_time,
                                                 check_proof_of_work, compact_to_target, display_hex,
                                                 expected_hashes, from_display_hex, median_time_past, mine,
                                                 next_bits, sha256d, target_to_compact)

GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
GENESIS_MERKLE = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
GENESIS_HEADER_HEX = ("01000000" + "00" * 32
                      + "3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a"
                      + "29ab5f49" + "ffff001d" + "1dac2b7c")
MAIN_POW_LIMIT_BITS = 0x1d00ffff
EASY_BITS = 0x2000ffff            # target 0xffff << 232: about one nonce in 256 succeeds
REGTEST_BITS = 0x207fffff         # Bitcoin's regtest: about one nonce in 2


def h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def header(**changes) -> BlockHeader:
    fields = dict(version=1, prev_hash=h("prev"), merkle_root=h("merkle"), payload_hash=h("payload"),
                  time=1_700_000_000, bits=EASY_BITS, nonce=0)
    fields.update(changes)
    return BlockHeader(**fields)


# -- sha256d and byte order ----------------------------------------------------------------------

def test_sha256d_is_sha256_twice():
    assert sha256d(b"") == bytes.fromhex("5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456")
    assert sha256d(b"abc") == hashlib.sha256(hashlib.sha256(b"abc").digest()).digest()
    assert sha256d(b"abc") != hashlib.sha256(b"abc").digest()


def test_display_hex_reverses_bytes():
    raw = bytes(range(32))
    assert display_hex(raw) == raw[::-1].hex()
    assert from_display_hex(display_hex(raw)) == raw
    with pytest.raises(ValueError, match="32 bytes"):
        from_display_hex("00ff")


# -- compact targets (Bitcoin Core arith_uint256_tests.cpp, "bignum_SetCompact") -----------------

SET_COMPACT_VECTORS = [
    # bits, target, GetCompact of that target
    (0x00000000, 0, 0),
    (0x00123456, 0, 0),
    (0x01003456, 0, 0),
    (0x02000056, 0, 0),
    (0x03000000, 0, 0),
    (0x04000000, 0, 0),
    (0x00923456, 0, 0),   # sign bit, but the value is zero: not negative
    (0x01803456, 0, 0),
    (0x02800056, 0, 0),
    (0x03800000, 0, 0),
    (0x04800000, 0, 0),
    (0x01123456, 0x12, 0x01120000),
    (0x02123456, 0x1234, 0x02123400),
    (0x03123456, 0x123456, 0x03123456),
    (0x04123456, 0x12345600, 0x04123456),
    (0x05009234, 0x92340000, 0x05009234),
    (0x20123456, 0x1234560000000000000000000000000000000000000000000000000000000000, 0x20123456),
    (0x1d00ffff, 0x00000000ffff0000000000000000000000000000000000000000000000000000, 0x1d00ffff),
]


@pytest.mark.parametrize("bits,target,compact", SET_COMPACT_VECTORS)
def test_compact_vectors_from_bitcoin_core(bits, target, compact):
    assert compact_to_target(bits) == target
    assert target_to_compact(target) == compact


def test_compact_never_sets_the_sign_bit():
    assert target_to_compact(0x80) == 0x02008000        # Bitcoin Core: not 0x01800000
    assert compact_to_target(0x02008000) == 0x80
    assert target_to_compact(0x800000) == 0x04008000


@pytest.mark.parametrize("bits", [0x04923456, 0x01fedcba, 0x1d80ffff])
def test_negative_compact_is_refused(bits):
    with pytest.raises(ValueError, match="negative"):
        compact_to_target(bits)


@pytest.mark.parametrize("bits", [0xff123456, 0xff7fffff, 0x21010000, 0x22000100, 0x23000001])
def test_overflowing_compact_is_refused(bits):
    with pytest.raises(ValueError, match="2\\*\\*256"):
        compact_to_target(bits)


@pytest.mark.parametrize("bits,target", [(0x2100ffff, 0xffff << 240), (0x22000001, 1 << 248),
                                         (0x220000ff, 0xff << 248)])
def test_largest_compacts_that_fit(bits, target):
    assert compact_to_target(bits) == target
    assert target < 2**256


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (2**32, ValueError), ("0x1d00ffff", TypeError),
                                     (1.0, TypeError), (True, TypeError)])
def test_compact_input_must_be_uint32(bad, exc):
    with pytest.raises(exc):
        compact_to_target(bad)


def test_target_to_compact_rejects_out_of_range():
    with pytest.raises(ValueError, match="non-negative"):
        target_to_compact(-1)
    with pytest.raises(ValueError, match="256 bits"):
        target_to_compact(2**256)
    assert target_to_compact(2**256 - 1) == 0x2100ffff      # rounds down to three bytes


def test_compact_round_trips():
    rng = random.Random(2)
    for _ in range(500):
        target = rng.getrandbits(rng.randrange(1, 257))
        bits = target_to_compact(target)
        decoded = compact_to_target(bits)
        assert not bits & 0x00800000
        assert decoded <= target                             # encoding rounds down ...
        size = (target.bit_length() + 7) // 8
        assert target - decoded < 256 ** max(size - 3, 0) * 256   # ... by less than the dropped bytes
        assert target_to_compact(decoded) == bits                 # and is then exact
    for bits in (0x1d00ffff, 0x1c05a3f4, 0x1b0404cb, 0x207fffff, 0x03123456, 0x17053894):
        assert target_to_compact(compact_to_target(bits)) == bits


# -- Bitcoin's genesis block ----------------------------------------------------------------------

def genesis_bytes() -> bytes:
    return bitcoin_header_bytes(version=1, prev_hash=bytes(32), merkle_root=from_display_hex(GENESIS_MERKLE),
                                time=1231006505, bits=0x1d00ffff, nonce=2083236893)


def test_bitcoin_genesis_header_layout_and_hash():
    raw = genesis_bytes()
    assert len(raw) == proof.BITCOIN_HEADER_SIZE == 80
    assert raw.hex() == GENESIS_HEADER_HEX
    assert display_hex(sha256d(raw)) == GENESIS_HASH


def test_bitcoin_genesis_meets_its_target():
    block_hash = sha256d(genesis_bytes())
    assert int.from_bytes(block_hash, "little") <= compact_to_target(0x1d00ffff)
    assert check_proof_of_work(block_hash, 0x1d00ffff, MAIN_POW_LIMIT_BITS)
    assert check_proof_of_work(block_hash, 0x1c00ffff)         # its hash is far below: 256 times harder is met
    assert not check_proof_of_work(block_hash, 0x1b00ffff)     # 65536 times harder is not
    other = bitcoin_header_bytes(1, bytes(32), from_display_hex(GENESIS_MERKLE), 1231006505, 0x1d00ffff,
                                 2083236894)
    assert not check_proof_of_work(sha256d(other), 0x1d00ffff)


def test_check_proof_of_work_rejects_bad_targets():
    # Bitcoin Core pow_tests: CheckProofOfWork_test_{negative,overflow,too_easy,zero}_target
    one = (1).to_bytes(32, "little")
    assert check_proof_of_work(one, 0x1d00ffff, MAIN_POW_LIMIT_BITS)
    assert not check_proof_of_work(one, 0x1d80ffff, MAIN_POW_LIMIT_BITS)    # negative
    assert not check_proof_of_work(one, 0xff7fffff, MAIN_POW_LIMIT_BITS)    # overflow
    assert not check_proof_of_work(one, target_to_compact(compact_to_target(MAIN_POW_LIMIT_BITS) * 2),
                                   MAIN_POW_LIMIT_BITS)                      # easier than the limit
    assert not check_proof_of_work(bytes(32), 0, MAIN_POW_LIMIT_BITS)       # zero target
    limit = compact_to_target(MAIN_POW_LIMIT_BITS)
    assert check_proof_of_work(limit.to_bytes(32, "little"), MAIN_POW_LIMIT_BITS)
    assert not check_proof_of_work((limit + 1).to_bytes(32, "little"), MAIN_POW_LIMIT_BITS)


# -- work ------------------------------------------------------------------------------------------

def test_block_work_is_bitcoins_block_proof():
    assert block_work(0x1d00ffff) == 0x100010001              # the genesis block's chain work
    assert block_work(REGTEST_BITS) == 2                      # regtest: two hashes a block
    target = compact_to_target(0x1b0404cb)
    assert block_work(0x1b0404cb) == 2**256 // (target + 1) == (~target % 2**256) // (target + 1) + 1
    assert block_work(0x1c00ffff) > block_work(0x1d00ffff)
    assert block_work(0x01010000) == 2**255                   # target 1: hashes 0 and 1 of 2**256 pass
    assert block_work(0x01030000) == 2**254                   # target 3: four of 2**256
    for bits in (0, 0x04923456, 0xff123456):                  # zero, negative, overflow: no work
        assert block_work(bits) == 0


def test_expected_hashes():
    assert expected_hashes(REGTEST_BITS) == pytest.approx(2.0, rel=1e-6)
    assert expected_hashes(0x1d00ffff) == pytest.approx(4295032833, rel=1e-12)
    with pytest.raises(ValueError, match="zero target"):
        expected_hashes(0x01003456)
    with pytest.raises(ValueError, match="negative"):
        expected_hashes(0x04923456)


# -- GradientCoin's header -------------------------------------------------------------------------

def test_header_layout_is_bitcoins_plus_payload_hash():
    hd = header(version=-2, time=0xDEADBEEF, bits=0x1d00ffff, nonce=0xFFFFFFFF)
    raw = hd.serialize()
    assert len(raw) == proof.BLOCK_HEADER_SIZE == 112
    assert raw[68:100] == hd.payload_hash
    assert raw[:68] + raw[100:] == bitcoin_header_bytes(-2, hd.prev_hash, hd.merkle_root, 0xDEADBEEF,
                                                        0x1d00ffff, 0xFFFFFFFF)
    assert raw[:4] == (-2).to_bytes(4, "little", signed=True)
    assert raw[-4:] == b"\xff" * 4 and raw[100:104] == bytes.fromhex("efbeadde")
    assert BlockHeader.from_bytes(raw) == hd
    assert hd.hash() == sha256d(raw)
    assert hd.hash_hex() == hd.hash()[::-1].hex()


def test_header_hash_commits_to_every_field():
    base = header()
    changes = dict(version=2, prev_hash=h("other"), merkle_root=h("other"), payload_hash=h("other"),
                   time=base.time + 1, bits=base.bits - 1, nonce=1)
    hashes = {base.hash()} | {dataclasses.replace(base, **{k: v}).hash() for k, v in changes.items()}
    assert len(hashes) == 1 + len(changes)


@pytest.mark.parametrize("field,value,exc,msg", [
    ("version", 2**31, ValueError, "signed 32-bit"),
    ("prev_hash", b"\x00" * 31, ValueError, "32 bytes"),
    ("merkle_root", "00" * 32, TypeError, "bytes"),
    ("payload_hash", b"\x00" * 33, ValueError, "32 bytes"),
    ("time", -1, ValueError, "unsigned 32-bit"),
    ("bits", 2**32, ValueError, "unsigned 32-bit"),
    ("nonce", 2**32, ValueError, "unsigned 32-bit"),
    ("nonce", 1.5, TypeError, "integer"),
])
def test_header_field_validation(field, value, exc, msg):
    with pytest.raises(exc, match=msg):
        header(**{field: value})


def test_header_is_frozen_and_from_bytes_checks_length():
    hd = header()
    with pytest.raises(dataclasses.FrozenInstanceError):
        hd.nonce = 5
    with pytest.raises(ValueError, match="112 bytes"):
        BlockHeader.from_bytes(hd.serialize()[:-1])
    with pytest.raises(ValueError, match="112 bytes"):
        BlockHeader.from_bytes(genesis_bytes())               # a Bitcoin header is not ours


def test_meets_target_reads_the_hash_little_endian():
    found = next(hd for n in range(10_000) if (hd := header(nonce=n)).meets_target())
    value = int.from_bytes(found.hash(), "little")
    assert value <= found.target()
    assert found.hash_hex().startswith("00")                  # the display order shows the zeros
    # some failing nonce whose big-endian reading would pass: the byte order matters
    wrong = next(hd for n in range(10_000) if not (hd := header(nonce=n)).meets_target()
                 and int.from_bytes(hd.hash(), "big") <= hd.target())
    assert int.from_bytes(wrong.hash(), "little") > wrong.target()


@pytest.mark.parametrize("bits", [0x04923456, 0xff123456, 0x01003456])
def test_meets_target_is_false_for_invalid_bits(bits):
    assert not header(bits=bits).meets_target()


# -- mining ----------------------------------------------------------------------------------------

def test_mine_returns_the_first_nonce_that_meets_the_target():
    start = header(nonce=12345)                               # the header's own nonce is ignored
    mined = mine(start)
    assert mined is not None and mined.meets_target()
    assert dataclasses.replace(mined, nonce=start.nonce) == start
    assert not any(start.with_nonce(n).meets_target() for n in range(mined.nonce))


def test_mine_start_nonce_and_max_tries():
    first = mine(header())
    later = mine(header(), start_nonce=first.nonce + 1)
    assert later.nonce > first.nonce and later.meets_target()
    assert not any(header(nonce=n).meets_target() for n in range(first.nonce + 1, later.nonce))
    assert mine(header(), max_tries=first.nonce) is None      # stops just before the answer
    assert mine(header(), max_tries=first.nonce + 1) == first
    assert mine(header(), start_nonce=first.nonce, max_tries=1) == first   # the start nonce is tried
    assert mine(header(), max_tries=0) is None
    assert mine(header(bits=0x1d00ffff), max_tries=2000) is None   # a hard target: none in 2000


def test_mine_stops_at_the_last_nonce():
    hard = header(bits=0x1d00ffff)
    assert mine(hard, start_nonce=2**32 - 3) is None           # 3 nonces left, then exhausted
    with pytest.raises(ValueError, match="start_nonce"):
        mine(hard, start_nonce=2**32)


def test_mine_refuses_unminable_bits():
    with pytest.raises(ValueError, match="zero target"):
        mine(header(bits=0x01003456))
    with pytest.raises(ValueError, match="negative"):
        mine(header(bits=0x04923456))
    with pytest.raises(ValueError, match="max_tries"):
        mine(header(), max_tries=-1)


def test_mining_rate_matches_expected_hashes():
    tries, found, nonce = 0, 0, 0
    hd = header(bits=0x2000ffff)
    while found < 40:
        mined = mine(hd, start_nonce=nonce)
        tries += mined.nonce - nonce + 1
        nonce, found = mined.nonce + 1, found + 1
    mean = tries / found
    assert 0.6 * expected_hashes(0x2000ffff) < mean < 1.5 * expected_hashes(0x2000ffff)


# -- retargeting (Bitcoin Core pow_tests.cpp) ------------------------------------------------------

MAINNET = dict(interval=2016, target_spacing=600, pow_limit_bits=MAIN_POW_LIMIT_BITS)


def test_retarget_bitcoin_get_next_work():
    # block 32255 -> 32256, first block of the interval #30240
    assert next_bits(0x1d00ffff, 1261130161, 1262152739, **MAINNET) == 0x1d00d86a


def test_retarget_bitcoin_pow_limit():
    # block 2015 -> 2016: slower than planned, but never easier than the limit
    assert next_bits(0x1d00ffff, 1231006505, 1233061996, **MAINNET) == 0x1d00ffff


def test_retarget_bitcoin_lower_limit_actual():
    # blocks far too fast: the span is clamped to a quarter, the target divided by 4
    assert next_bits(0x1c05a3f4, 1279008237, 1279297671, **MAINNET) == 0x1c0168fd


def test_retarget_bitcoin_upper_limit_actual():
    # blocks far too slow: the span is clamped to four times, the target multiplied by 4
    assert next_bits(0x1c387f6f, 1263163443, 1269211443, **MAINNET) == 0x1d00e1fd


def test_retarget_by_hand():
    # genesis target 0xffff * 256**26, blocks twice as fast: the target halves to
    # 0x7fff8 * 256**25 * 16 = 0x7fff80 * 256**25, i.e. exponent 28 = 0x1c, mantissa 0x7fff80
    timespan = 2016 * 600
    assert next_bits(0x1d00ffff, 0, timespan // 2, **MAINNET) == 0x1c7fff80
    assert next_bits(0x1d00ffff, 0, timespan, **MAINNET) == 0x1d00ffff       # on time: unchanged
    # a small chain: interval 10, spacing 10 s (timespan 100 s), bits 0x1f123456 = 0x123456 * 256**28;
    # 130 s instead of 100 s: the target grows by 13/10 and GetCompact keeps its top three bytes,
    # floor(0x123456 * 1.3) = floor(1550959.8) = 1550959 = 0x17aa6f, exponent unchanged
    small = dict(interval=10, target_spacing=10, pow_limit_bits=0x2000ffff)
    assert compact_to_target(0x1f123456) == 0x123456 * 256**28
    assert next_bits(0x1f123456, 1000, 1130, **small) == 0x1f17aa6f


def test_retarget_clamps():
    timespan = 2016 * 600
    quarter = next_bits(0x1c05a3f4, 0, timespan // 4, **MAINNET)
    for span in (timespan // 5, 1, 0, -10_000):               # faster than 4x (even backwards): clamped
        assert next_bits(0x1c05a3f4, 0, span, **MAINNET) == quarter
    four = next_bits(0x1c05a3f4, 0, timespan * 4, **MAINNET)
    assert four == target_to_compact(compact_to_target(0x1c05a3f4) * 4)
    assert next_bits(0x1c05a3f4, 0, timespan * 100, **MAINNET) == four
    # the limit: an easy target slowed down stays at the limit
    assert next_bits(0x1d00ffff, 0, timespan * 3, **MAINNET) == MAIN_POW_LIMIT_BITS
    assert next_bits(0x1d00f000, 0, timespan * 4, **MAINNET) == MAIN_POW_LIMIT_BITS


def test_retarget_argument_errors():
    with pytest.raises(ValueError, match="interval"):
        next_bits(0x1d00ffff, 0, 10, interval=0, target_spacing=600, pow_limit_bits=MAIN_POW_LIMIT_BITS)
    with pytest.raises(ValueError, match="target_spacing"):
        next_bits(0x1d00ffff, 0, 10, interval=10, target_spacing=-1, pow_limit_bits=MAIN_POW_LIMIT_BITS)
    with pytest.raises(ValueError, match="negative"):
        next_bits(0x04923456, 0, 10, **MAINNET)
    with pytest.raises(ValueError, match="zero target"):
        next_bits(0x1d00ffff, 0, 10, interval=10, target_spacing=1, pow_limit_bits=0)


# -- block time ------------------------------------------------------------------------------------

def test_median_time_past():
    times = [5, 1, 9, 3, 7, 11, 2, 10, 4, 8, 6]
    assert median_time_past(times) == 6
    assert median_time_past([100] * 5 + times) == 6           # only the last 11 count
    assert median_time_past([1, 2, 3, 4]) == 3                # Bitcoin's: sorted[n // 2]
    assert median_time_past([7]) == 7
    with pytest.raises(ValueError, match="at least one"):
        median_time_past([])


def test_check_block_time():
    prev = list(range(1000, 1110, 10))                        # median 1050
    check_block_time(1051, prev, now=1051)
    with pytest.raises(ValueError, match="time-too-old"):
        check_block_time(1050, prev, now=2000)
    with pytest.raises(ValueError, match="time-too-old"):
        check_block_time(1000, prev, now=2000)
    check_block_time(1060 + 2 * 3600, prev, now=1060)         # exactly two hours ahead: fine
    with pytest.raises(ValueError, match="time-too-new"):
        check_block_time(1061 + 2 * 3600, prev, now=1060)
    with pytest.raises(ValueError, match="time-too-new"):
        check_block_time(1100, prev, now=1060, max_future=10)
    check_block_time(0, [], now=0)                            # genesis: no ancestors to compare


# -- the Merkle tree (CVE-2012-2459) ---------------------------------------------------------------

LEAVES = [h(c) for c in "abcdefgh"]


def bitcoin_style_root(leaves):
    """Bitcoin's ComputeMerkleRoot (last node paired with itself), to show the attack is real."""
    level = list(leaves)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def test_duplicating_the_last_leaf_changes_the_root():
    a, b, c, d, e, f = LEAVES[:6]
    assert bitcoin_style_root([a, b, c]) == bitcoin_style_root([a, b, c, c])            # the CVE
    assert bitcoin_style_root([a, b, c, d, e, f]) == bitcoin_style_root([a, b, c, d, e, f, e, f])
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])
    assert merkle_root([a, b, c, d, e, f]) != merkle_root([a, b, c, d, e, f, e, f])
    assert merkle_root([a]) != merkle_root([a, a])


def test_merkle_root_structure():
    a, b, c = LEAVES[:3]
    A, B, C = (leaf_hash(x) for x in (a, b, c))
    assert A == sha256d(b"\x00" + a)
    assert node_hash(A, B) == sha256d(b"\x01" + A + B)
    assert merkle_root([a]) == A
    assert merkle_root([a, b]) == node_hash(A, B)
    assert merkle_root([a, b, c]) == node_hash(node_hash(A, B), C)          # c promoted, not doubled
    five = [leaf_hash(x) for x in LEAVES[:5]]
    assert merkle_root(LEAVES[:5]) == node_hash(node_hash(node_hash(*five[:2]), node_hash(*five[2:4])), five[4])


def test_merkle_root_distinguishes_leaves_from_nodes_and_order():
    a, b = LEAVES[:2]
    assert merkle_root([leaf_hash(a) + leaf_hash(b)]) != merkle_root([a, b])
    assert merkle_root([a, b]) != merkle_root([b, a])
    roots = {merkle_root(LEAVES[:n]) for n in range(1, 9)}
    assert len(roots) == 8


def test_merkle_root_of_nothing_is_refused():
    with pytest.raises(ValueError, match="no leaves"):
        merkle_root([])
    with pytest.raises(ValueError, match="no leaves"):
        merkle_proof([], 0)
    with pytest.raises(TypeError, match="bytes"):
        merkle_root(["not bytes"])


@pytest.mark.parametrize("n", range(1, 14))
def test_every_leaf_has_a_valid_proof(n):
    leaves = [h(f"tx{i}") for i in range(n)]
    root = merkle_root(leaves)
    for i, leaf in enumerate(leaves):
        p = merkle_proof(leaves, i)
        assert (p.index, p.leaf_count) == (i, n)
        assert verify_proof(leaf, p, root)
        assert not verify_proof(h("intruder"), p, root)
        if n > 1:
            assert not verify_proof(leaves[(i + 1) % n], p, root)


def test_proof_sizes():
    leaves = [h(f"tx{i}") for i in range(8)]
    assert all(len(merkle_proof(leaves, i).siblings) == 3 for i in range(8))
    assert len(merkle_proof(leaves[:5], 4).siblings) == 1     # promoted twice, then one sibling
    assert merkle_proof(leaves[:1], 0).siblings == ()


def test_tampered_proofs_fail():
    leaves = [h(f"tx{i}") for i in range(7)]
    root = merkle_root(leaves)
    p = merkle_proof(leaves, 2)
    assert verify_proof(leaves[2], p, root)
    bad_sibling = MerkleProof(p.index, p.leaf_count, (h("x"),) + p.siblings[1:])
    wrong_index = MerkleProof(3, p.leaf_count, p.siblings)
    wrong_count = MerkleProof(p.index, 3, p.siblings)      # leaf 2 of 3 is promoted: another path
    too_long = MerkleProof(p.index, p.leaf_count, p.siblings + (h("extra"),))
    too_short = MerkleProof(p.index, p.leaf_count, p.siblings[:-1])
    out_of_range = MerkleProof(7, 7, p.siblings)
    for bad in (bad_sibling, wrong_index, wrong_count, too_long, too_short, out_of_range):
        assert not verify_proof(leaves[2], bad, root)
    assert not verify_proof(leaves[2], p, merkle_root(leaves[:6]))
    with pytest.raises(IndexError):
        merkle_proof(leaves, 7)


def test_proof_position_needs_the_true_leaf_count():
    """Inclusion is always sound; the position is, given the tree's true size (a tree of 7 and
    one of 8 share leaf 2's path shape, and leaf 4 of 5 is promoted up to position 1 of 2)."""
    leaves = [h(f"tx{i}") for i in range(5)]
    root = merkle_root(leaves)
    p = merkle_proof(leaves, 4)
    assert verify_proof(leaves[4], p, root)
    assert verify_proof(leaves[4], MerkleProof(1, 2, p.siblings), root)        # same path, other claim
    for i in range(4):                                     # with the true count no other index passes
        assert not verify_proof(leaves[4], MerkleProof(i, 5, p.siblings), root)


def test_header_commits_to_merkle_root_of_txids():
    txids = [h(f"tx{i}") for i in range(3)]
    hd = header(merkle_root=merkle.merkle_root(txids))
    assert hd.merkle_root == merkle_root(txids)
    assert header(merkle_root=merkle_root(txids + txids[-1:])).hash() != hd.hash()
