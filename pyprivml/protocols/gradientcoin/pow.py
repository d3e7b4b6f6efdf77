"""Proof of work for GradientCoin: block headers, sha256d, Bitcoin's compact targets, block work,
retargeting, block-time rules and the nonce search (seed 002 §4.1-§4.2, Definitions 7-8; its
appendix B.1-B.2, Definitions 28 and 31, which restate Bitcoin [Nak08]).

Seed 002 asks for Bitcoin's proof of work: a header holds the previous block's hash ("Prev Hash")
and a nonce that miners increment "until they find a value that results in the block's hash
having the required number of leading zero bits" (Definition 7); the header's hash is what the
timestamp server publishes (Definition 8). The paper gives no encoding, so this module follows
Bitcoin Core exactly where Bitcoin has a rule:

* the hash is SHA-256 applied twice (:func:`sha256d`), read as a 256-bit little-endian integer;
* the difficulty is Bitcoin's compact "nBits" (:func:`compact_to_target`,
  :func:`target_to_compact`: ``arith_uint256::SetCompact``/``GetCompact``), and a header meets
  its target when ``int.from_bytes(hash, "little") <= target`` (``CheckProofOfWork``);
* a block's work is ``2**256 // (target + 1)`` (:func:`block_work`: ``GetBlockProof``), the
  fork-choice weight that :mod:`.chain` sums;
* every ``interval`` blocks the target is rescaled by the observed time span, clamped to a
  factor 4 either way and never above the proof-of-work limit (:func:`next_bits`:
  ``CalculateNextWorkRequired``);
* a block's time must exceed the median of the previous 11 and may not be more than two hours
  ahead of the node's clock (:func:`median_time_past`, :func:`check_block_time`:
  ``GetMedianTimePast``, ``MAX_FUTURE_BLOCK_TIME``).

GradientCoin's one change is in the header: besides the Merkle root of the transactions it
commits to ``payload_hash``, the hash of the model update Δx the block publishes (seed 002
Definition 4, :mod:`.payload`); see :class:`BlockHeader` for the 112-byte layout. Bitcoin's own
80-byte layout is :func:`bitcoin_header_bytes`, kept so that the tests can check this module
against Bitcoin's real genesis block.

Hashes are stored in internal byte order (the bytes :func:`sha256d` returns); Bitcoin prints them
reversed (:func:`display_hex`, :func:`from_display_hex`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
import struct
from dataclasses import dataclass

__all__ = [
    "sha256d", "display_hex", "from_display_hex",
    "compact_to_target", "target_to_compact", "check_proof_of_work", "block_work", "expected_hashes",
    "BITCOIN_HEADER_SIZE", "BLOCK_HEADER_SIZE", "bitcoin_header_bytes", "BlockHeader", "mine",
    "MINE_ROUTES", "mine_routes", "resolve_mine_route",
    "next_bits", "MEDIAN_TIME_SPAN", "MAX_FUTURE_BLOCK_TIME", "median_time_past", "check_block_time",
]

UINT32_MAX = 2**32 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
HASH_SIZE = 32

COMPACT_SIGN_BIT = 0x00800000      # Bitcoin's sign bit of the mantissa
COMPACT_MANTISSA_MASK = 0x007FFFFF  # the 23-bit mantissa

#: Bitcoin's 80-byte header: version (int32), prev hash, Merkle root, time, bits, nonce (uint32s).
BITCOIN_HEADER_SIZE = 80
#: GradientCoin's header: Bitcoin's with the 32-byte payload hash after the Merkle root.
BLOCK_HEADER_SIZE = 112
_BITCOIN_LAYOUT = struct.Struct("<i32s32sIII")
_BLOCK_LAYOUT = struct.Struct("<i32s32s32sIII")
assert _BITCOIN_LAYOUT.size == BITCOIN_HEADER_SIZE and _BLOCK_LAYOUT.size == BLOCK_HEADER_SIZE

#: How many previous block times the median-time-past rule looks at (Bitcoin: 11).
MEDIAN_TIME_SPAN = 11
#: How far (seconds) a block's time may run ahead of the node's clock (Bitcoin: two hours).
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60


# -- hashing -----------------------------------------------------------------------------------

def sha256d(data: bytes) -> bytes:
    """SHA-256 of SHA-256 of ``data``: Bitcoin's block and transaction hash (``Hash256``), the
    hash seed 002's proof of work and timestamp server use (§4.1-§4.2)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def display_hex(hash_bytes: bytes) -> str:
    """A hash in the order Bitcoin prints it (``uint256::GetHex``): the bytes reversed, so that the
    leading zeros of a mined block come first."""
    return bytes(hash_bytes)[::-1].hex()


def from_display_hex(text: str) -> bytes:
    """The inverse of :func:`display_hex`: a hash as Bitcoin prints it, back in internal order."""
    data = bytes.fromhex(text)
    if len(data) != HASH_SIZE:
        raise ValueError(f"a hash is {HASH_SIZE} bytes ({2 * HASH_SIZE} hex digits), got {len(data)} bytes")
    return data[::-1]


# -- compact targets ---------------------------------------------------------------------------

def _uint32(name: str, value) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if not 0 <= value <= UINT32_MAX:
        raise ValueError(f"{name} must be an unsigned 32-bit integer (0 <= {name} <= {UINT32_MAX:#x}), got {value}")
    return value


def compact_to_target(bits: int) -> int:
    """Decode Bitcoin's compact difficulty "nBits" into the 256-bit target, exactly as Bitcoin
    Core's ``arith_uint256::SetCompact``.

    ``bits`` is ``exponent << 24 | sign << 23 | mantissa``: the top byte is the size of the target
    in bytes, bit ``0x00800000`` a sign, the low 23 bits the mantissa, and the target is
    ``mantissa * 256**(exponent - 3)`` (for exponents below 3 the mantissa is shifted right, losing
    its low bytes: 0x01123456 decodes to 0x12).

    Raises :class:`ValueError` where Bitcoin sets ``fNegative`` (the sign bit with a non-zero
    value: no hash can be below a negative target) or ``fOverflow`` (the value does not fit in 256
    bits). A zero target is returned as 0: it is a valid encoding, but no header meets it
    (:func:`check_proof_of_work`).
    """
    bits = _uint32("bits", bits)
    size = bits >> 24
    mantissa = bits & COMPACT_MANTISSA_MASK
    if size <= 3:
        target = mantissa >> (8 * (3 - size))
    else:
        target = mantissa << (8 * (size - 3))
    if target != 0 and bits & COMPACT_SIGN_BIT:
        raise ValueError(f"compact bits {bits:#010x} encode a negative target (the sign bit 0x00800000 is set; "
                         "Bitcoin's fNegative)")
    if target != 0 and (size > 34 or (mantissa > 0xFF and size > 33) or (mantissa > 0xFFFF and size > 32)):
        raise ValueError(f"compact bits {bits:#010x} encode a target above 2**256 (exponent {size} is too large "
                         "for its mantissa; Bitcoin's fOverflow)")
    return target


def target_to_compact(target: int) -> int:
    """Encode a target as compact "nBits", exactly as Bitcoin Core's ``arith_uint256::GetCompact``
    (for a non-negative number).

    The exponent is the target's size in bytes and the mantissa its three leading bytes (lower
    bytes are dropped, so the encoding rounds down); when the mantissa's top bit would land on the
    sign bit 0x00800000, the mantissa is shifted one byte right and the exponent incremented, so
    the result never reads as negative (0x80 encodes as 0x02008000, not 0x01800000).
    """
    if isinstance(target, bool):
        raise TypeError("target must be an integer, got a bool")
    target = operator.index(target)
    if target < 0:
        raise ValueError(f"a target is non-negative, got {target}")
    if target >= 2**256:
        raise ValueError(f"a target fits in 256 bits, got one of {target.bit_length()} bits")
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        mantissa = target << (8 * (3 - size))
    else:
        mantissa = target >> (8 * (size - 3))
    if mantissa & COMPACT_SIGN_BIT:
        mantissa >>= 8
        size += 1
    return size << 24 | mantissa


def check_proof_of_work(block_hash: bytes, bits: int, pow_limit_bits: int | None = None) -> bool:
    """Whether ``block_hash`` (internal byte order, as :func:`sha256d` returns it) meets the target
    ``bits`` encode: Bitcoin Core's ``CheckProofOfWork``, ``int.from_bytes(hash, "little") <=
    target``. False (never an exception) for bits that are negative, overflow, encode the zero
    target, or, when ``pow_limit_bits`` is given, encode a target easier than that limit."""
    block_hash = bytes(block_hash)
    if len(block_hash) != HASH_SIZE:
        raise ValueError(f"a block hash is {HASH_SIZE} bytes, got {len(block_hash)}")
    try:
        target = compact_to_target(bits)
    except ValueError:
        return False
    if target == 0:
        return False
    if pow_limit_bits is not None and target > compact_to_target(pow_limit_bits):
        return False
    return int.from_bytes(block_hash, "little") <= target


def block_work(bits: int) -> int:
    """The expected number of hashes a block with these bits took, ``2**256 // (target + 1)``:
    Bitcoin Core's ``GetBlockProof`` (which computes it as ``~target // (target + 1) + 1`` in 256
    bits). The chain with the most summed work is the one seed 002 §4.3 commits ("only the longest
    chain is committed"). As in Bitcoin, bits that are negative, overflow or encode the zero
    target carry no work: 0."""
    try:
        target = compact_to_target(bits)
    except ValueError:
        return 0
    if target == 0:
        return 0
    return 2**256 // (target + 1)


def expected_hashes(bits: int) -> float:
    """How many nonces :func:`mine` expects to try: each hash meets the target with probability
    ``(target + 1) / 2**256``, so the mean of the geometric number of tries is ``2**256 / (target +
    1)`` (the exact version of :func:`block_work`). Raises :class:`ValueError` for invalid bits and
    for the zero target, which no header can meet."""
    target = compact_to_target(bits)
    if target == 0:
        raise ValueError(f"compact bits {bits:#010x} encode the zero target, which no hash meets")
    return 2**256 / (target + 1)


# -- headers -----------------------------------------------------------------------------------

def _hash_field(name: str, value) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be {HASH_SIZE} bytes, got {type(value).__name__}")
    value = bytes(value)
    if len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


def _int32(name: str, value) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"{name} must be a signed 32-bit integer, got {value}")
    return value


def bitcoin_header_bytes(version: int, prev_hash: bytes, merkle_root: bytes, time: int, bits: int,
                         nonce: int) -> bytes:
    """Bitcoin's 80-byte block header (``CBlockHeader`` serialised): ``version`` as a little-endian
    int32, ``prev_hash`` and ``merkle_root`` as 32 bytes each in internal order, then ``time``,
    ``bits`` and ``nonce`` as little-endian uint32s. Its :func:`sha256d` is the block's hash."""
    return _BITCOIN_LAYOUT.pack(_int32("version", version), _hash_field("prev_hash", prev_hash),
                                _hash_field("merkle_root", merkle_root), _uint32("time", time),
                                _uint32("bits", bits), _uint32("nonce", nonce))


@dataclass(frozen=True)
class BlockHeader:
    """A GradientCoin block header: seed 002's chain of proof of work (Definition 7: "Prev Hash",
    "Nonce", the transactions, here through their Merkle root) plus ``payload_hash``, the
    :func:`sha256d` of the model update the block publishes (Definition 4).

    Fields and their ranges (checked on construction: :class:`TypeError` for a wrong type,
    :class:`ValueError` for a value out of range):

    * ``version``: signed 32-bit, as Bitcoin's ``nVersion``;
    * ``prev_hash``: the previous header's :meth:`hash` (32 bytes, internal order; zeros for the
      genesis block);
    * ``merkle_root``: :func:`.merkle.merkle_root` of the transaction ids (32 bytes);
    * ``payload_hash``: the hash of the model-update payload (32 bytes);
    * ``time``: seconds since the Unix epoch, unsigned 32-bit as in Bitcoin;
    * ``bits``: the compact target (:func:`compact_to_target`), unsigned 32-bit; any 32-bit value
      is accepted here, and :meth:`meets_target` is False for one that does not decode;
    * ``nonce``: unsigned 32-bit, what :func:`mine` searches.

    :meth:`serialize` gives the fixed 112-byte little-endian layout, Bitcoin's with the payload
    hash inserted after the Merkle root::

        offset  size  field
             0     4  version       int32 LE
             4    32  prev_hash
            36    32  merkle_root
            68    32  payload_hash  (GradientCoin)
           100     4  time          uint32 LE
           104     4  bits          uint32 LE
           108     4  nonce         uint32 LE

    The nonce is last, as in Bitcoin, so a miner hashes the first 64 bytes once per header.
    """

    version: int
    prev_hash: bytes
    merkle_root: bytes
    payload_hash: bytes
    time: int
    bits: int
    nonce: int

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "version", _int32("version", self.version))
        for name in ("prev_hash", "merkle_root", "payload_hash"):
            set_(self, name, _hash_field(name, getattr(self, name)))
        for name in ("time", "bits", "nonce"):
            set_(self, name, _uint32(name, getattr(self, name)))

    def serialize(self) -> bytes:
        """The 112-byte encoding documented on the class; what :meth:`hash` hashes."""
        return _BLOCK_LAYOUT.pack(self.version, self.prev_hash, self.merkle_root, self.payload_hash,
                                  self.time, self.bits, self.nonce)

    @classmethod
    def from_bytes(cls, data: bytes) -> "BlockHeader":
        """The header :meth:`serialize` wrote; :class:`ValueError` unless ``data`` is exactly
        112 bytes."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a serialised header is bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) != BLOCK_HEADER_SIZE:
            raise ValueError(f"a serialised block header is {BLOCK_HEADER_SIZE} bytes, got {len(data)}")
        return cls(*_BLOCK_LAYOUT.unpack(data))

    def hash(self) -> bytes:
        """The block's identity: :func:`sha256d` of :meth:`serialize` (internal byte order)."""
        return sha256d(self.serialize())

    def hash_hex(self) -> str:
        """:meth:`hash` as Bitcoin prints block hashes: reversed, leading zeros first."""
        return display_hex(self.hash())

    def target(self) -> int:
        """The target :attr:`bits` encode (:func:`compact_to_target`; raises for invalid bits)."""
        return compact_to_target(self.bits)

    def meets_target(self, pow_limit_bits: int | None = None) -> bool:
        """Whether the header's hash, read little-endian, is at most its target
        (:func:`check_proof_of_work`): the proof of work of seed 002 Definition 7."""
        return check_proof_of_work(self.hash(), self.bits, pow_limit_bits)

    def with_nonce(self, nonce: int) -> "BlockHeader":
        """A copy with another nonce."""
        return dataclasses.replace(self, nonce=nonce)


#: The routes :func:`mine` takes: "auto" (the compiled kernel where it is built, else Python),
#: "python" (the :mod:`hashlib` loop, the reference), and the kernel's own SHA-256 routes.
MINE_ROUTES = ("auto", "python", "portable", "sha-ni")
#: Nonces per call of the compiled search: the GIL is released inside a call, and between calls
#: Python can deliver signals (Ctrl-C) and the loop stays responsive (~0.06 s with SHA-NI).
_MINE_CHUNK = 1 << 20
_native_pow_module = None


def _native_pow():
    """``pyprivml._native`` if it is built and has the nonce search, else None (asked once)."""
    global _native_pow_module
    if _native_pow_module is None:
        try:
            from ... import _native
        except ImportError:
            _native = None
        _native_pow_module = _native if hasattr(_native, "pow_search") else False
    return _native_pow_module or None


def mine_routes() -> tuple[str, ...]:
    """The routes other than "auto" that :func:`mine` can run here: "python" always, then those
    of the compiled kernel that this build and CPU have ("portable", and "sha-ni" on x86-64 with
    the SHA extensions)."""
    native = _native_pow()
    return ("python",) + (tuple(native.pow_routes()) if native is not None else ())


def resolve_mine_route(route: str = "auto") -> str:
    """The route :func:`mine` runs for ``route``: "auto" is "sha-ni" or "portable" (the compiled
    kernel's choice for this CPU) when ``pyprivml._native`` is built, else "python". Raises
    :class:`ValueError` for an unknown route or one this machine lacks."""
    if route not in MINE_ROUTES:
        raise ValueError(f"route must be one of {', '.join(map(repr, MINE_ROUTES))}, got {route!r}")
    if route == "python":
        return route
    native = _native_pow()
    if native is None:
        if route == "auto":
            return "python"
        raise ValueError(f"route {route!r} needs the compiled extension pyprivml._native, which is not built "
                         "(`make build`); route='python' runs without it")
    return native.pow_resolve_route(route)  # raises ValueError for a route this CPU lacks


def _mine_python(prefix: bytes, target: int, start: int, stop: int) -> int | None:
    """The reference search: the first nonce in ``range(start, stop)`` whose sha256d meets
    ``target``, by :mod:`hashlib` (block 1 of the header is hashed once and the SHA-256 object
    copied per nonce)."""
    midstate = hashlib.sha256(prefix)
    sha256 = hashlib.sha256
    from_bytes = int.from_bytes
    for nonce in range(start, stop):
        inner = midstate.copy()
        inner.update(nonce.to_bytes(4, "little"))
        if from_bytes(sha256(inner.digest()).digest(), "little") <= target:
            return nonce
    return None


def _mine_native(native, prefix: bytes, target: int, start: int, stop: int, route: str) -> int | None:
    """The same search by the compiled kernel (:func:`pyprivml._native.pow_search`), in chunks
    of ``_MINE_CHUNK`` nonces."""
    target_bytes = target.to_bytes(HASH_SIZE, "little")
    while start < stop:
        count = min(_MINE_CHUNK, stop - start)
        nonce, _tried, _hash = native.pow_search(prefix, target_bytes, start, count, route)
        if nonce is not None:
            return nonce
        start += count
    return None


def mine(header: BlockHeader, *, start_nonce: int = 0, max_tries: int | None = None,
         route: str = "auto") -> BlockHeader | None:
    """The nonce search of seed 002 Definition 7 / Algorithm 4 step 8: try nonces ``start_nonce,
    start_nonce + 1, ...`` (the nonce ``header`` carries is ignored) and return ``header`` with the
    first one whose hash meets the target, or None when ``max_tries`` nonces (default: all up to
    2**32 - 1) fail. On None the caller changes another field (the time, the payload) and searches
    again, as Bitcoin miners do with the extra nonce.

    This is the single entry point for mining. ``route`` picks how the hashes are computed; every
    route returns the same header:

    * ``"auto"`` (default): the compiled kernel ``kernels/pow_nonce.c`` when ``pyprivml._native``
      is built (SHA-NI where the CPU has the x86 SHA extensions, else its portable C SHA-256), else
      the Python loop;
    * ``"python"``: the reference, plain Python with :mod:`hashlib` (the first 64 bytes of the
      header are hashed once and the SHA-256 state copied per nonce);
    * ``"portable"``, ``"sha-ni"``: one of the kernel's routes, forced (:class:`ValueError` where
      the extension is not built or the CPU lacks it; :func:`mine_routes` lists those available).

    The kernel hashes the first 64 bytes once, then per nonce the second block and the SHA-256 of
    the digest, with the GIL released, in calls of about a million nonces. Raises
    :class:`ValueError` for bits that do not decode or encode the zero target (no nonce could ever
    succeed), a negative ``max_tries`` or an unknown route."""
    if not isinstance(header, BlockHeader):
        raise TypeError(f"mine() takes a BlockHeader, got {type(header).__name__}")
    start_nonce = _uint32("start_nonce", start_nonce)
    target = compact_to_target(header.bits)
    if target == 0:
        raise ValueError(f"compact bits {header.bits:#010x} encode the zero target, which no nonce meets")
    stop = UINT32_MAX + 1
    if max_tries is not None:
        if isinstance(max_tries, bool) or operator.index(max_tries) < 0:
            raise ValueError(f"max_tries must be a non-negative integer or None, got {max_tries!r}")
        stop = min(stop, start_nonce + operator.index(max_tries))
    route = resolve_mine_route(route)
    prefix = header.serialize()[:-4]
    if route == "python":
        nonce = _mine_python(prefix, target, start_nonce, stop)
    else:
        nonce = _mine_native(_native_pow(), prefix, target, start_nonce, stop, route)
    return None if nonce is None else dataclasses.replace(header, nonce=nonce)


# -- retargeting -------------------------------------------------------------------------------

def next_bits(last_bits: int, first_time: int, last_time: int, *, interval: int, target_spacing: int,
              pow_limit_bits: int) -> int:
    """The bits of the first block of a new retarget interval: Bitcoin Core's
    ``CalculateNextWorkRequired``.

    ``last_bits`` and ``last_time`` are the last block of the finished interval, ``first_time`` the
    time of its first block (Bitcoin measures from the block ``interval - 1`` before the last, so
    the span covers ``interval - 1`` gaps; the caller picks the block). With the target timespan
    ``interval * target_spacing``, the actual span is clamped to [timespan / 4, timespan * 4]
    (integer division, as Bitcoin), the new target is ``old * actual // timespan``, capped at the
    target of ``pow_limit_bits``, and returned re-encoded by :func:`target_to_compact` (which
    rounds down). Bitcoin: interval 2016, spacing 600 s, limit 0x1d00ffff.
    """
    for name, value in (("interval", interval), ("target_spacing", target_spacing)):
        if isinstance(value, bool) or operator.index(value) <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    target_timespan = operator.index(interval) * operator.index(target_spacing)
    actual = operator.index(last_time) - operator.index(first_time)
    actual = max(target_timespan // 4, min(actual, target_timespan * 4))
    pow_limit = compact_to_target(pow_limit_bits)
    if pow_limit == 0:
        raise ValueError(f"pow_limit_bits {pow_limit_bits:#010x} encode the zero target")
    new_target = compact_to_target(last_bits) * actual // target_timespan
    return target_to_compact(min(new_target, pow_limit))


# -- block time --------------------------------------------------------------------------------

def median_time_past(times) -> int:
    """The median of the last 11 block times (fewer near genesis), oldest first: Bitcoin Core's
    ``CBlockIndex::GetMedianTimePast``, the element at index ``n // 2`` of the sorted times (the
    upper median when ``n`` is even). Seed 002 §4.2's timestamps are ordered by it."""
    recent = [operator.index(t) for t in list(times)[-MEDIAN_TIME_SPAN:]]
    if not recent:
        raise ValueError("the median time past needs at least one previous block time")
    recent.sort()
    return recent[len(recent) // 2]


def check_block_time(time: int, prev_times, now: int, max_future: int = MAX_FUTURE_BLOCK_TIME) -> None:
    """Bitcoin's two timestamp rules for a new block (``ContextualCheckBlockHeader``):

    * "time-too-old": ``time`` must be strictly greater than :func:`median_time_past` of
      ``prev_times`` (the ancestors' times, oldest first; skipped when there are none, i.e. for the
      genesis block);
    * "time-too-new": ``time`` may be at most ``now + max_future`` (two hours by default).

    Raises :class:`ValueError` naming the broken rule; returns None when both hold.
    """
    time, now, max_future = operator.index(time), operator.index(now), operator.index(max_future)
    if max_future < 0:
        raise ValueError(f"max_future must be non-negative, got {max_future}")
    prev_times = list(prev_times)
    if prev_times:
        median = median_time_past(prev_times)
        if time <= median:
            raise ValueError(f"time-too-old: block time {time} is not after the median {median} "
                             f"of the previous {min(len(prev_times), MEDIAN_TIME_SPAN)} blocks")
    if time > now + max_future:
        raise ValueError(f"time-too-new: block time {time} is more than {max_future} s after the node's "
                         f"clock {now}")
