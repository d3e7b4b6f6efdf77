"""The model update a gradient block carries, and the consensus rules every node applies to it
(seed 002 §3.2, Definitions 4-5; Algorithm 5 and sk/desk of appendix E.1-E.2, eqs. 19-20).

A gradient block (Definition 4) carries the change Δx_t of the model; the chain's model is
x_t = x_{t−1} + Δx_t (Algorithm 1, line 10). With sketching (Algorithm 5) the block carries
instead Δx̃_t = sk_t(Δx_t) = R_t Δx_t ∈ R^b (eq. 19) and every node applies the estimate
desk_t(Δx̃_t) = R_tᵀ Δx̃_t ∈ R^d (eq. 20); E[desk_t(sk_t(h))] = h and
E‖desk_t(sk_t(h))‖² ≤ (1 + α)‖h‖², α = a d / b (Theorem 60).

Where R_t comes from. Every node must de-sketch with the same R_t, and Algorithm 5 needs a fresh,
independent R_t each round (Theorem 60, part 1). Here R_t = ``sketch.make(kind, b, d,
seed=sketch_seed(prev_hash))``: its seed is derived from the hash of the block the update
builds on (:func:`sketch_seed`), so it is fixed by the chain, the same on every node, different
on every branch and unknown before the parent block was mined. (A miner who mined the parent
itself chose that parent's hash among its proof-of-work solutions; that is the one, costly,
influence anyone has on R_t.) Sparse embeddings use ``make``'s default column sparsity s.

:class:`ModelUpdate` holds the carried vector (Δx, or Δx̃ with its kind, b and seed);
:meth:`ModelUpdate.to_bytes` is its canonical encoding and :meth:`ModelUpdate.hash` =
sha256d(to_bytes()) the payload hash the block header commits to.

Wire format (little-endian, 30-byte header, then the values)::

    offset  size  field
    0       4     magic b"GCMU"
    4       1     version (1)
    5       1     kind code: 0 plain, 1 gaussian, 2 srht, 3 ams, 4 countsketch, 5 sparse1, 6 sparse2
    6       8     d, the model dimension (u64, >= 1)
    14      8     b, the sketch size (u64; 0 for a plain update, >= 1 when sketched)
    22      8     seed, the sketch seed used (u64; 0 for a plain update)
    30      8·k   k float64 values ('<f8'), k = d (plain) or b (sketched)

Every update has exactly one encoding (no optional fields, no trailing bytes, the values' raw
IEEE bits), so equal updates have equal hashes and any change of any value or field changes the
hash. :meth:`ModelUpdate.from_bytes` refuses anything else with ValueError.

:class:`ConsensusRules` (fixed by the genesis block) are checked on every block; see
:meth:`ConsensusRules.check` for what each rule guarantees and what it cannot.

Example
-------
>>> import numpy as np
>>> prev = bytes(range(32))
>>> rules = ConsensusRules(max_update_norm=10.0, sketch_kind="countsketch", sketch_b=8, d=32)
>>> u = make_update(np.full(32, 0.1), prev_hash=prev, kind="countsketch", b=8)
>>> rules.check(u, prev)                       # honest: accepted
>>> ModelUpdate.from_bytes(u.to_bytes()) == u
True
>>> desketched(u, prev).shape
(32,)
>>> rules.check(u, bytes(32))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: the update was sketched with seed ... but the previous block's hash gives seed ...; it was built for another parent block
"""

from __future__ import annotations

import functools
import hashlib
import math
import struct
from dataclasses import dataclass

import numpy as np

from ... import dp, sketch

__all__ = [
    "ModelUpdate", "ConsensusRules", "sha256d", "sketch_seed", "make_update", "desketched",
    "privatize_update", "sketch_variance_factor", "KIND_CODES", "HEADER_SIZE", "MAGIC", "VERSION",
]

MAGIC = b"GCMU"
VERSION = 1
_HEADER = struct.Struct("<4sBBQQQ")
HEADER_SIZE = _HEADER.size          # 30
#: The wire code of each sketch kind (its index + 1); 0 is a plain (unsketched) update.
KIND_CODES = ("gaussian", "srht", "ams", "countsketch", "sparse1", "sparse2")
_U64 = 1 << 64
_SEED_DOMAIN = b"pyprivml/gradientcoin/sketch-seed/v1"


def sha256d(data: bytes) -> bytes:
    """SHA-256 applied twice (Bitcoin's block and transaction hash)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _check_hash(prev_hash) -> bytes:
    if not isinstance(prev_hash, (bytes, bytearray, memoryview)):
        raise TypeError(f"prev_hash must be bytes, got {type(prev_hash).__name__}")
    prev_hash = bytes(prev_hash)
    if len(prev_hash) != 32:
        raise ValueError(f"prev_hash must be a 32-byte block hash, got {len(prev_hash)} bytes")
    return prev_hash


def sketch_seed(prev_block_hash: bytes) -> int:
    """The seed of R_t for the block built on `prev_block_hash`: the first 8 bytes (little-endian)
    of SHA-256(domain tag ‖ prev hash), a u64. Every node derives the same R_t (eqs. 19-20)
    and distinct parents give independent-looking R_t (Theorem 60, part 1).

    >>> sketch_seed(bytes(32)) == sketch_seed(bytes(32)) != sketch_seed(b"\\x01" + bytes(31))
    True
    """
    h = hashlib.sha256(_SEED_DOMAIN + _check_hash(prev_block_hash)).digest()
    return int.from_bytes(h[:8], "little")


def _int(value, name, minimum=0, maximum=_U64 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not minimum <= value <= maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def _kind(kind):
    if kind is None:
        return None
    kind = sketch.canonical_kind(kind)
    if kind not in KIND_CODES:
        raise ValueError(f"sketch kind {kind!r} has no wire code; encodable kinds: {', '.join(KIND_CODES)}")
    return kind


@functools.lru_cache(maxsize=4)
def _operator(kind: str, b: int, d: int, seed: int):
    """R_t, cached: a block's update is de-sketched when checked and again when connected."""
    return sketch.make(kind, b, d, seed)


@dataclass(frozen=True, eq=False)
class ModelUpdate:
    """The payload of a gradient block (Definition 4): Δx_t, or Δx̃_t = sk_t(Δx_t) (eq. 19).

    ``values``: the carried float64 vector, length d (plain) or b (sketched). ``d``: the model
    dimension. ``kind``, ``b``, ``seed``: the sketch kind, size and the seed of R_t it was
    made with (all None for a plain update). Construction checks only the structure (lengths,
    field types); non-finite values and bounds are the business of :class:`ConsensusRules`, so
    that an invalid payload received from the network can be represented and refused.
    Equality is equality of the canonical bytes.
    """

    values: np.ndarray
    d: int
    kind: str | None = None
    b: int | None = None
    seed: int | None = None

    def __post_init__(self):
        v = np.asarray(self.values)
        if v.dtype.kind not in "fiu":
            raise TypeError(f"update values must be real numbers, got dtype {v.dtype}")
        v = np.array(v, dtype=np.float64, copy=True)
        if v.ndim != 1:
            raise ValueError(f"update values must be a vector, got shape {v.shape}")
        v.setflags(write=False)
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "d", _int(self.d, "the model dimension d", 1))
        kind = _kind(self.kind)
        object.__setattr__(self, "kind", kind)
        if kind is None:
            if self.b is not None or self.seed is not None:
                raise ValueError("a plain update has no sketch size b or seed")
            if v.size != self.d:
                raise ValueError(f"a plain update carries d = {self.d} values, got {v.size}")
        else:
            if self.b is None or self.seed is None:
                raise ValueError(f"a {kind} sketched update needs its sketch size b and seed")
            object.__setattr__(self, "b", _int(self.b, "the sketch size b", 1))
            object.__setattr__(self, "seed", _int(self.seed, "the sketch seed"))
            if v.size != self.b:
                raise ValueError(f"a sketched update carries b = {self.b} values, got {v.size}")

    @classmethod
    def plain(cls, delta) -> "ModelUpdate":
        """An unsketched update carrying Δx itself."""
        v = np.asarray(delta, dtype=np.float64)
        return cls(v, v.size if v.ndim == 1 else -1)

    @property
    def sketched(self) -> bool:
        return self.kind is not None

    def to_bytes(self) -> bytes:
        """The canonical encoding (see the module docstring): header, then '<f8' values."""
        code = 0 if self.kind is None else KIND_CODES.index(self.kind) + 1
        header = _HEADER.pack(MAGIC, VERSION, code, self.d, self.b or 0, self.seed or 0)
        return header + self.values.astype("<f8", copy=False).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "ModelUpdate":
        """Parse :meth:`to_bytes`; ValueError for truncated, over-long or malformed input."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < HEADER_SIZE:
            raise ValueError(f"truncated model update: {len(data)} bytes, the header alone is {HEADER_SIZE}")
        magic, version, code, d, b, seed = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ValueError(f"not a model update: magic {magic!r}, expected {MAGIC!r}")
        if version != VERSION:
            raise ValueError(f"unsupported model update version {version} (this code reads {VERSION})")
        if code > len(KIND_CODES):
            raise ValueError(f"unknown sketch kind code {code}")
        if d == 0:
            raise ValueError("malformed model update: the dimension d is 0")
        if code == 0:
            if b != 0 or seed != 0:
                raise ValueError("malformed model update: a plain update must have b = 0 and seed = 0")
            k = d
        else:
            if b == 0:
                raise ValueError("malformed model update: a sketched update needs b >= 1")
            k = b
        expected = HEADER_SIZE + 8 * k
        if len(data) != expected:
            what = "truncated" if len(data) < expected else "over-long"
            raise ValueError(f"{what} model update: {len(data)} bytes, expected {expected} for {k} values")
        values = np.frombuffer(data, dtype="<f8", offset=HEADER_SIZE, count=k).astype(np.float64)
        if code == 0:
            return cls(values, d)
        return cls(values, d, KIND_CODES[code - 1], b, seed)

    def hash(self) -> bytes:
        """sha256d(to_bytes()): the payload hash a block header commits to."""
        return sha256d(self.to_bytes())

    def norm(self) -> float:
        """‖values‖₂: ‖Δx‖ for a plain update, ‖Δx̃‖ for a sketched one (the applied step's
        norm is ``np.linalg.norm(desketched(update, prev_hash))``)."""
        return float(np.linalg.norm(self.values))

    def __eq__(self, other):
        if not isinstance(other, ModelUpdate):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    def __hash__(self):
        return hash(self.hash())

    def __repr__(self) -> str:
        if self.kind is None:
            return f"ModelUpdate(plain, d={self.d}, norm={self.norm():.6g})"
        return f"ModelUpdate({self.kind}, b={self.b}, d={self.d}, seed={self.seed}, norm={self.norm():.6g})"


def _delta(delta) -> np.ndarray:
    v = np.asarray(delta)
    if v.dtype.kind not in "fiu":
        raise TypeError(f"Δx must be real numbers, got dtype {v.dtype}")
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"Δx must be a non-empty vector, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("Δx contains NaN or infinity")
    return v


def make_update(delta, *, prev_hash: bytes, kind: str | None = None, b: int | None = None) -> ModelUpdate:
    """The honest payload for Δx on the block `prev_hash`: Δx itself (``kind=None``), or
    Δx̃ = R_t Δx (eq. 19) with R_t = make(kind, b, d, sketch_seed(prev_hash)).

    Algorithm 5, line 18 writes Δx̃_t ← η · sk_t(Δx(t)); Δx = u^K − x already contains η (see
    :func:`.losses.local_steps`), so no second factor η is applied.
    """
    v = _delta(delta)
    prev_hash = _check_hash(prev_hash)
    if kind is None:
        if b is not None:
            raise ValueError("a sketch size b was given without a sketch kind")
        return ModelUpdate(v, v.size)
    kind = _kind(kind)
    if b is None:
        raise ValueError(f"a {kind} sketch needs its size b")
    b = _int(b, "the sketch size b", 1)
    seed = sketch_seed(prev_hash)
    sk = np.asarray(_operator(kind, b, v.size, seed).sk(v), dtype=np.float64)
    return ModelUpdate(sk, v.size, kind, b, seed)


def desketched(update: ModelUpdate, prev_hash: bytes) -> np.ndarray:
    """The change every node applies, x_t = x_{t−1} + desketched(...): Δx for a plain update,
    desk_t(Δx̃_t) = R_tᵀ Δx̃_t (eq. 20) for a sketched one, with R_t rebuilt from `prev_hash`.

    Raises ValueError if the update's seed is not sketch_seed(prev_hash): it was sketched for
    another parent, and R_tᵀ of this parent would turn it into a meaningless step.
    """
    if not isinstance(update, ModelUpdate):
        raise TypeError(f"expected a ModelUpdate, got {type(update).__name__}")
    prev_hash = _check_hash(prev_hash)
    if update.kind is None:
        return np.array(update.values, dtype=np.float64)
    seed = sketch_seed(prev_hash)
    if update.seed != seed:
        raise ValueError(f"the update was sketched with seed {update.seed} but the previous block's hash "
                         f"gives seed {seed}; it was built for another parent block")
    op = _operator(update.kind, update.b, update.d, seed)
    return np.asarray(op.desk(update.values), dtype=np.float64)


@dataclass(frozen=True, kw_only=True)
class ConsensusRules:
    """The payload rules of a GradientCoin chain, fixed by its genesis block.

    ``max_update_norm``: the bound on ‖x_t − x_{t−1}‖₂, the step a block applies;
    ``sketch_kind`` / ``sketch_b``: None for plain updates, else the sketch every block uses;
    ``d``: the model dimension. Construct with keywords:
    ``ConsensusRules(max_update_norm=1.0, d=10)``.
    """

    max_update_norm: float
    sketch_kind: str | None = None
    sketch_b: int | None = None
    d: int

    def __post_init__(self):
        bound = float(self.max_update_norm)
        if not bound > 0:      # math.inf allowed: no bound
            raise ValueError(f"max_update_norm must be > 0, got {self.max_update_norm!r}")
        object.__setattr__(self, "max_update_norm", bound)
        object.__setattr__(self, "d", _int(self.d, "the model dimension d", 1))
        kind = _kind(self.sketch_kind)
        object.__setattr__(self, "sketch_kind", kind)
        if kind is None:
            if self.sketch_b is not None:
                raise ValueError("sketch_b was given without a sketch_kind")
        else:
            if self.sketch_b is None:
                raise ValueError(f"a {kind} sketch needs sketch_b")
            object.__setattr__(self, "sketch_b", _int(self.sketch_b, "sketch_b", 1))
            sketch.make(kind, self.sketch_b, self.d, seed=0)     # the parameters must be valid for make

    @property
    def sketched(self) -> bool:
        return self.sketch_kind is not None

    def check(self, update: ModelUpdate, prev_hash: bytes) -> None:
        """Refuse (ValueError, naming the rule) a payload no node may apply on block `prev_hash`.

        What each rule guarantees, in the order checked:

        1. *dimension*: ``update.d == d``, so x_t = x_{t−1} + step is defined;
        2. *sketching mode*: sketched exactly when the genesis says so, with its kind and b. Every
           node then de-sketches with the same family and size, and a block's payload has a fixed
           size (d or b values, 8 bytes each);
        3. *sketch seed*: ``update.seed == sketch_seed(prev_hash)``. The seed is all of sk_t that
           can be checked: any b-vector is the sketch R_t Δx of some Δx (R_t has full row rank),
           so whether Δx̃ came from an honest Δx cannot be seen from Δx̃. The seed rule
           guarantees that the miner did not pick R_t (it is fixed by the parent block), that
           every node applies the same R_tᵀ Δx̃, and that a payload sketched for one parent is
           not replayed on another, where R_tᵀ would turn it into noise;
        4. *finite*: every carried value is finite, so the model never becomes NaN/inf;
        5. *norm bound*: ‖step‖₂ ≤ max_update_norm for the step actually applied (Δx, or
           R_tᵀ Δx̃, computed exactly as the node will apply it), so no single miner can move the
           model far: k blocks move it by at most k · max_update_norm.

        Not guaranteed: that the step is a gradient step on anyone's data, or a descent step
        (checking that needs the data, as seed 000's toy does); that it is unbiased (Theorem
        60's expectations are over R_t, not over what a miner chooses to send).
        """
        if not isinstance(update, ModelUpdate):
            raise ValueError(f"the payload must be a ModelUpdate, got {type(update).__name__}")
        prev_hash = _check_hash(prev_hash)
        if update.d != self.d:
            raise ValueError(f"wrong dimension: the update is for a model of dimension {update.d}, "
                             f"the chain's model has d = {self.d}")
        if self.sketch_kind is None and update.kind is not None:
            raise ValueError(f"the update is sketched ({update.kind}) but this chain's rules carry plain updates")
        if self.sketch_kind is not None and update.kind is None:
            raise ValueError(f"the update is plain but this chain's rules require a {self.sketch_kind} "
                             f"sketch of size {self.sketch_b}")
        if update.kind is not None:
            if update.kind != self.sketch_kind:
                raise ValueError(f"wrong sketch kind: {update.kind}, the rules require {self.sketch_kind}")
            if update.b != self.sketch_b:
                raise ValueError(f"wrong sketch size: b = {update.b}, the rules require b = {self.sketch_b}")
            seed = sketch_seed(prev_hash)
            if update.seed != seed:
                raise ValueError(f"the update was sketched with seed {update.seed} but the previous block's hash "
                                 f"gives seed {seed}; it was built for another parent block")
        if not np.all(np.isfinite(update.values)):
            bad = int(np.flatnonzero(~np.isfinite(update.values))[0])
            raise ValueError(f"the update contains NaN or infinity (value {bad})")
        step = float(np.linalg.norm(desketched(update, prev_hash)))
        if not step <= self.max_update_norm:
            raise ValueError(f"update norm {step:.6g} exceeds the bound {self.max_update_norm:.6g} "
                             f"(so no single miner can move the model far)")

    def make_update(self, delta, prev_hash: bytes, *, fit: bool = False) -> ModelUpdate:
        """The honest payload for Δx under these rules (:func:`make_update` with the genesis'
        kind and b). ``fit=True`` scales it down, if needed, so that the applied step obeys the
        norm bound (desk ∘ sk is linear, so this scales the applied step by the same factor)."""
        u = make_update(delta, prev_hash=prev_hash, kind=self.sketch_kind, b=self.sketch_b)
        if u.d != self.d:
            raise ValueError(f"Δx has dimension {u.d}, the chain's model has d = {self.d}")
        if fit:
            for _ in range(4):
                step = float(np.linalg.norm(desketched(u, prev_hash)))
                if step <= self.max_update_norm:
                    break
                scaled = u.values * (self.max_update_norm / step) * (1 - 1e-12)
                u = ModelUpdate(scaled, u.d, u.kind, u.b, u.seed)
        return u


def privatize_update(delta, clip: float, epsilon: float, delta_dp: float, accountant=None, noise=None, *,
                     calibration: str = "classical") -> np.ndarray:
    """User-level (ε, δ)-DP for one released Δx: clip(Δx) + N(0, σ² I), clip(v) = v / max(1, ‖v‖/C).

    One user's whole contribution is Δx, so after clipping to norm C = `clip` adding or removing
    the user changes the release by at most C; σ = gaussian_sigma(ε, δ, C) (the mechanism of
    :class:`pyprivml.dp.ClippedGaussian` on the batch of one Δx). The release is recorded in
    `accountant` (a :class:`pyprivml.dp.PrivacyAccountant`) as one Gaussian mechanism of noise
    multiplier σ / C, so releases over many blocks compose there. `noise`: a
    :class:`pyprivml.dp.NoiseSource` (None: a fresh cryptographically secure one). Sketching the
    result afterwards is post-processing and costs no privacy.
    """
    v = _delta(delta)
    mech = dp.ClippedGaussian(clip, epsilon, delta_dp, calibration=calibration, noise=noise)
    out = np.asarray(mech.noisy_sum(v[None, :]), dtype=np.float64)
    if accountant is not None:
        if not isinstance(accountant, dp.PrivacyAccountant):
            raise TypeError(f"accountant must be a pyprivml.dp.PrivacyAccountant, got {type(accountant).__name__}")
        accountant.add_gaussian(mech.noise_multiplier, steps=1)
    return out


def sketch_variance_factor(kind: str, d: int, b: int, trials: int = 200, seed=0, *, v=None,
                           centered: bool = False) -> float:
    """Empirical E‖desk(sk(v))‖² / ‖v‖² over `trials` independent R (Theorem 60, part 4), to set
    beside its bound 1 + α = 1 + a d / b (a from Table 1, ``sketch.TABLE1_A``).

    ``centered=True`` measures E‖desk(sk(v)) − v‖² / ‖v‖² + 1 instead, which has the same
    expectation because E[desk(sk(v))] = v (part 3). `v` defaults to a seeded Gaussian vector.

    >>> f = sketch_variance_factor("countsketch", d=64, b=16, trials=100)
    >>> 1 < f < 1 + 3 * 64 / 16
    True
    """
    d = _int(d, "d", 1)
    b = _int(b, "b", 1)
    trials = _int(trials, "trials", 1)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(d) if v is None else _delta(v)
    if v.size != d:
        raise ValueError(f"v must have length d = {d}, got {v.size}")
    vv = float(v @ v)
    if vv == 0:
        raise ValueError("v must be non-zero")
    seeds = rng.integers(0, _U64, size=trials, dtype=np.uint64)
    total = 0.0
    for s in seeds:
        R = sketch.make(kind, b, d, int(s))
        est = np.asarray(R.desk(R.sk(v)), dtype=np.float64)
        r = est - v if centered else est
        total += float(r @ r)
    mean = total / trials / vv
    return mean + 1.0 if centered else mean
