"""Cryptographically secure randomness for privacy masks.

The masks that make Lagrange coding and Shamir sharing information-theoretically private (the
random blocks R_j of seed 004 eq. 9, V_j of eq. 11, the coefficients r_i of appendix D) must be
uniform on F_p and unpredictable. :class:`SecureRandom` draws them from a ChaCha20 keystream
(the `cryptography` package, i.e. OpenSSL) keyed with 256 bits from ``os.urandom``, and maps
32-bit words to [0, p) by exact rejection sampling, so every residue is equally likely.

Example
-------
>>> from pyprivml import PrimeField
>>> from pyprivml.random import SecureRandom, default_rng
>>> F = PrimeField(11)
>>> masks = default_rng().field_elements(F, (2, 3))     # fresh key from os.urandom
>>> masks.shape, masks.dtype, bool(((0 <= masks) & (masks < 11)).all())
((2, 3), dtype('int64'), True)
>>> a = SecureRandom(seed=7).field_elements(F, 5)        # reproducible, NOT secure
>>> b = SecureRandom(seed=7).field_elements(F, 5)
>>> bool((a == b).all())
True
"""

from __future__ import annotations

import hashlib
import math
import operator
import os
import sys
import threading

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from .field import PrimeField, as_field

__all__ = ["SecureRandom", "default_rng", "as_secure_rng"]

_WORD = 1 << 32
_CHUNK = 1 << 20  # values per round of rejection sampling: bounds the temporary memory
_LITTLE = sys.byteorder == "little"


def _shape(size) -> tuple[int, ...]:
    if size is None:
        return ()
    if isinstance(size, (int, np.integer)):
        size = (size,)
    shape = tuple(operator.index(s) for s in size)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return shape


def _lemire(words: np.ndarray, bound: int) -> np.ndarray:
    """Map uint32 words to [0, bound) without bias: Lemire's multiply-shift with rejection.

    v = floor(w * bound / 2**32); w is rejected when (w * bound mod 2**32) < 2**32 mod bound.
    Each v then has exactly floor(2**32 / bound) accepted preimages, so the kept values are
    uniform on [0, bound). A multiply and a shift are much cheaper than a division per word.
    Returns the accepted values as int64, in the order of their words.
    """
    m = words.astype(np.uint64)
    m *= np.uint64(bound)
    threshold = (_WORD - bound) % bound  # = 2**32 mod bound: the number of rejected words
    keep = None
    if threshold:
        low = m.view(np.uint32)[0::2] if _LITTLE else (m & np.uint64(_WORD - 1))
        keep = low >= threshold
        if keep.all():
            keep = None
    m >>= np.uint64(32)
    values = m.view(np.int64)
    return values if keep is None else values[keep]


class SecureRandom:
    """Uniform field elements, bytes and floats from a ChaCha20 keystream.

    Parameters
    ----------
    seed : int, optional
        None (the default) keys the stream with 32 bytes from ``os.urandom``: unpredictable, use
        it for every mask that protects privacy. An integer seed derives the key from
        SHA-256 of the seed, giving a reproducible stream for tests and benchmarks. **A seeded
        stream is NOT secure**: anyone who knows or guesses the seed can recompute every mask.

    Notes
    -----
    Draws are serialised by a lock, so one instance may be shared by threads. An unseeded
    instance re-keys itself from ``os.urandom`` when it finds itself in a forked child, so a
    parent and its children never reuse a keystream.
    """

    def __init__(self, seed: int | None = None):
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
                raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
            seed = int(seed)
        self._seed = seed
        self._lock = threading.Lock()
        self._rekey()

    def _rekey(self) -> None:
        if self._seed is None:
            key = os.urandom(32)
        else:
            key = hashlib.sha256(b"pyprivml.SecureRandom seed " + str(self._seed).encode()).digest()
        # The 16-byte ChaCha20 nonce of `cryptography` holds the block counter: start it at 0.
        self._cipher = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
        self._pid = os.getpid()

    @property
    def seeded(self) -> bool:
        """True for a reproducible (insecure) stream made with ``seed=``."""
        return self._seed is not None

    def __repr__(self) -> str:
        return f"SecureRandom(seed={self._seed})" if self.seeded else "SecureRandom()"

    # -- raw keystream -------------------------------------------------------------------

    def _keystream(self, nbytes: int) -> np.ndarray:
        out = np.empty(nbytes, dtype=np.uint8)
        if nbytes:
            with self._lock:
                if self._seed is None and os.getpid() != self._pid:
                    self._rekey()
                # Encrypting zeros yields the keystream itself; np.zeros is cheap (calloc).
                self._cipher.update_into(np.zeros(nbytes, dtype=np.uint8), out)
        return out

    def random_bytes(self, n: int) -> bytes:
        """n bytes of keystream."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"random_bytes needs n >= 0, got {n}")
        return self._keystream(n).tobytes()

    def _words32(self, n: int) -> np.ndarray:
        return self._keystream(4 * n).view(np.uint32)

    def _words64(self, n: int) -> np.ndarray:
        return self._keystream(8 * n).view(np.uint64)

    # -- integers ------------------------------------------------------------------------

    def _below(self, bound: int, n: int) -> np.ndarray:
        """n independent uniform integers in [0, bound), 1 <= bound <= 2**32, as int64.

        Words are drawn and filtered in chunks of _CHUNK values, which bounds the temporary
        memory; any shortfall left by rejections is drawn again, keeping keystream order.
        """
        out = np.zeros(n, dtype=np.int64)
        if bound == 1:
            return out
        accept = (_WORD - (_WORD % bound)) / _WORD  # >= 1/2 for every bound <= 2**32
        have = 0
        while have < n:
            short = min(n - have, _CHUNK)
            # Expected need plus four standard deviations, so one round almost always suffices.
            draw = int(short / accept + 4 * math.sqrt(short * (1 - accept) / accept**2) + 16)
            got = _lemire(self._words32(draw), bound)[:short]
            out[have:have + got.size] = got
            have += got.size
        return out

    def integers(self, low: int, high: int | None = None, size=None) -> np.ndarray:
        """Uniform integers in [low, high) (or [0, low) when high is None), high - low <= 2**32."""
        low, high = (0, operator.index(low)) if high is None else (operator.index(low), operator.index(high))
        span = high - low
        if not 1 <= span <= _WORD:
            raise ValueError(f"integers needs 1 <= high - low <= 2**32, got [{low}, {high})")
        shape = _shape(size)
        out = self._below(span, math.prod(shape)).reshape(shape)
        return out + low if low else out

    def field_elements(self, field, shape) -> np.ndarray:
        """Independent uniform elements of F_p as an int64 array of the given shape, in [0, p).

        ``field`` is a :class:`~pyprivml.PrimeField` or a prime p. These are the masking blocks
        R_j and V_j of seed 004 eqs. 9 and 11 and the Shamir coefficients of appendix D.
        """
        F = field if isinstance(field, PrimeField) else as_field(field)
        shape = _shape(shape)
        return self._below(F.p, math.prod(shape)).reshape(shape)

    # -- floats --------------------------------------------------------------------------

    def uniform(self, size=None) -> np.ndarray:
        """Uniform floats in [0, 1) on the 2**-53 grid (53 random bits each)."""
        shape = _shape(size)
        words = self._words64(math.prod(shape))
        return ((words >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(shape)

    def _open_uniform(self, n: int) -> np.ndarray:
        """Uniforms in the open interval (0, 1): (k + 1/2) 2**-53, so logarithms stay finite."""
        return ((self._words64(n) >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53

    def normal(self, loc=0.0, scale=1.0, size=None) -> np.ndarray:
        """Gaussian samples N(loc, scale**2) by the Box-Muller transform of secure uniforms."""
        shape = _shape(size)
        n = math.prod(shape)
        half = (n + 1) // 2
        u1, u2 = self._open_uniform(half), self._open_uniform(half)
        r = np.sqrt(-2.0 * np.log(u1))
        z = np.concatenate([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)])[:n]
        return (loc + scale * z).reshape(shape)

    def laplace(self, loc=0.0, scale=1.0, size=None) -> np.ndarray:
        """Laplace samples with density exp(-|x - loc| / scale) / (2 scale), by the inverse CDF."""
        shape = _shape(size)
        u = self._open_uniform(math.prod(shape)) - 0.5
        return (loc - scale * np.sign(u) * np.log1p(-2.0 * np.abs(u))).reshape(shape)


def default_rng() -> SecureRandom:
    """A fresh :class:`SecureRandom` keyed from ``os.urandom``."""
    return SecureRandom()


def as_secure_rng(rng) -> SecureRandom:
    """None -> a fresh secure generator; a SecureRandom passes through; anything else is refused.

    NumPy generators (Mersenne Twister, PCG64) are predictable from their output, so they may
    not produce privacy masks: pass ``SecureRandom(seed=...)`` for a reproducible test run.
    """
    if rng is None:
        return SecureRandom()
    if isinstance(rng, SecureRandom):
        return rng
    raise TypeError(
        f"privacy masks need a pyprivml.random.SecureRandom, got {type(rng).__name__}; "
        f"pass None for a fresh secure generator or SecureRandom(seed=...) for a reproducible "
        f"(insecure) test stream"
    )
