r"""The Chinese remainder theorem: an integer back from its residues modulo pairwise coprime moduli.

For pairwise coprime m_1, ..., m_k with product M, the map ``x -> (x mod m_1, ..., x mod m_k)``
is a bijection of Z/MZ onto Z/m_1 x ... x Z/m_k, so every integer x with ``|x| <= (M-1)//2``
is determined by its k residues. That is what lets CodedPrivateML run its protocol once per
prime and recover a decoded value far larger than any one 32-bit field holds: the master lifts
the k decoded residues with :meth:`CRT.lift`, the centred representative, exactly as
:meth:`~pyprivml.PrimeField.lift` (phi^-1 of seed 004 eq. 24) does for one prime.

Reconstruction is Garner's mixed-radix algorithm, vectorised over arrays:
``x = v_1 + m_1 (v_2 + m_2 (v_3 + ...))`` with digits ``v_j in [0, m_j)``,
``v_j = (r_j - v_1 - m_1 v_2 - ... ) (m_1 ... m_{j-1})^-1 mod m_j``. Every digit is computed in
uint64 arithmetic (moduli below 2**32, so a product of two residues is below 2**64: exact); the
digits are combined in uint64 when M < 2**64 (every partial sum is below M) and with Python
integers (an object array) otherwise. :meth:`CRT.lift` returns int64 when every centred value
fits (M < 2**64), Python integers otherwise; :meth:`CRT.lift_float` the correctly rounded float64
of ``x / 2**scale_bits``, the same value :func:`pyprivml.dequantize` gives for one prime.

>>> import numpy as np
>>> crt = CRT((7, 11, 13))                       # M = 1001: every |x| <= 500 comes back
>>> x = np.array([-500, -1, 0, 42, 500])
>>> r = crt.residues(x)
>>> r.tolist()
[[4, 6, 0, 0, 3], [6, 10, 0, 9, 5], [7, 12, 0, 3, 6]]
>>> crt.lift(r).tolist()
[-500, -1, 0, 42, 500]
>>> big = CRT((4294967291, 4294967279, 4294967231))   # three 32-bit primes: M > 2**95
>>> y = np.array([-(2**94) + 3, 2**90 + 1], dtype=object)
>>> big.lift(big.residues(y)).tolist() == y.tolist()          # Python ints beyond 2**64
True
>>> big.lift_float(big.residues(y), scale_bits=90).tolist()
[-16.0, 1.0]
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["CRT", "MAX_MODULUS"]

#: Every modulus must be below 2**32, so that a product of two residues is exact in uint64.
MAX_MODULUS = 2**32 - 1


class CRT:
    """Reconstruction modulo pairwise coprime moduli ``m_1, ..., m_k`` (2 <= m_j < 2**32).

    Attributes: ``moduli`` (the tuple, in the order given), ``modulus`` (their product M, a
    Python int) and ``half`` = (M-1)//2: every integer with ``|x| <= half`` is recovered exactly.

    Raises ValueError, naming valid values, for moduli that are not integers in [2, 2**32), that
    repeat, or that share a factor (their gcd is named); TypeError for non-integers.
    """

    __slots__ = ("moduli", "modulus", "half", "_inverses", "_wide")

    def __init__(self, moduli):
        if isinstance(moduli, (str, bytes)) or not hasattr(moduli, "__iter__"):
            raise TypeError(f"moduli must be a sequence of integers, got {type(moduli).__name__} {moduli!r}")
        moduli = tuple(moduli)
        if not moduli:
            raise ValueError("CRT needs at least one modulus, got none")
        for m in moduli:
            if isinstance(m, bool) or not isinstance(m, numbers.Integral):
                raise TypeError(f"every modulus must be an integer, got {type(m).__name__} {m!r}")
        moduli = tuple(int(m) for m in moduli)
        for m in moduli:
            if not 2 <= m <= MAX_MODULUS:
                raise ValueError(f"modulus {m} is outside [2, 2**32 - 1] (residues must fit in 32 bits); "
                                 f"e.g. the primes 4294967291, 4294967279, 4294967231 are valid")
        for i, a in enumerate(moduli):
            for b in moduli[i + 1:]:
                if a == b:
                    raise ValueError(f"moduli must be distinct: {a} appears more than once in {moduli}")
                g = math.gcd(a, b)
                if g != 1:
                    raise ValueError(f"moduli must be pairwise coprime: gcd({a}, {b}) = {g}; distinct primes "
                                     f"always are (e.g. {_prime_hint(moduli)})")
        self.moduli = moduli
        self.modulus = math.prod(moduli)
        self.half = (self.modulus - 1) // 2
        # Garner's constants: inv[j][i] = m_i^-1 mod m_j for i < j.
        self._inverses = [[pow(moduli[i], -1, moduli[j]) for i in range(j)] for j in range(len(moduli))]
        self._wide = self.modulus >= 2**64

    def __repr__(self) -> str:
        return f"CRT({self.moduli})"

    def __len__(self) -> int:
        return len(self.moduli)

    # -- forward: residues ---------------------------------------------------------------------

    def residues(self, x) -> np.ndarray:
        """``x mod m_j`` for every modulus: an int64 array of shape (k, *x.shape), entries in [0, m_j).

        ``x`` holds integers: an integer NumPy array, or an object array (or list) of Python ints of
        any size. A negative x maps to its residue in [0, m_j) (x + m_j when -m_j < x < 0: phi of eq. 5)."""
        x = np.asarray(x)
        if x.dtype.kind not in "iuO" or (x.dtype.kind == "O" and not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in x.reshape(-1))):
            raise TypeError(f"residues takes integers, got an array of dtype {x.dtype}")
        out = np.empty((len(self.moduli),) + x.shape, dtype=np.int64)
        for j, m in enumerate(self.moduli):
            if x.dtype.kind == "O":
                out[j] = np.array([int(v) % m for v in x.reshape(-1)], dtype=np.int64).reshape(x.shape)
            else:
                out[j] = x.astype(np.int64) % m if x.dtype != np.uint64 else (x % np.uint64(m)).astype(np.int64)
        return out

    # -- backward: the centred integer -----------------------------------------------------------

    def _check(self, residues) -> np.ndarray:
        r = np.asarray(residues)
        if r.dtype.kind not in "iu":
            raise TypeError(f"residues must be an integer array of shape (k, ...), got dtype {r.dtype}")
        if r.ndim < 1 or r.shape[0] != len(self.moduli):
            raise ValueError(f"residues must have shape (k = {len(self.moduli)}, ...), one row per modulus "
                             f"{self.moduli}, got shape {r.shape}")
        for j, m in enumerate(self.moduli):
            if r[j].size and (r[j].min() < 0 or r[j].max() >= m):
                raise ValueError(f"residues[{j}] has entries in [{r[j].min()}, {r[j].max()}], outside "
                                 f"[0, {m}) of modulus {m}")
        return r.astype(np.uint64)

    def _digits(self, r: np.ndarray) -> list:
        """Garner's mixed-radix digits v_j in [0, m_j), as uint64 arrays."""
        digits = []
        for j, m in enumerate(self.moduli):
            mj = np.uint64(m)
            t = r[j].copy()
            for i in range(j):
                # t <- (t - v_i) m_i^-1 mod m_j: every operand below 2**32, every product below 2**64
                t = (t + mj - digits[i] % mj) % mj
                t = (t * np.uint64(self._inverses[j][i])) % mj
            digits.append(t)
        return digits

    def lift(self, residues) -> np.ndarray:
        """The integers x with ``x = residues[j] mod m_j`` and ``-(M - 1 - half) <= x <= half``.

        ``residues`` has shape (k, ...), row j in [0, m_j). Returns an array of shape ``residues.shape[1:]``:
        int64 when M < 2**64 (every centred value then fits), else an object array of Python ints.
        Exact: |x| <= (M-1)//2 is returned as itself."""
        r = self._check(residues)
        shape = r.shape[1:]
        k = len(self.moduli)
        digits = self._digits(r.reshape(k, -1))
        if not self._wide:
            acc = digits[k - 1]
            for j in range(k - 2, -1, -1):          # acc < m_j m_{j+1} ... m_k <= M < 2**64 throughout
                acc = acc * np.uint64(self.moduli[j]) + digits[j]
            negative = acc > np.uint64(self.half)
            out = acc.astype(np.int64)              # exact for acc <= half < 2**63
            # above half: x = acc - M = -(M - acc), and 0 < M - acc <= M - half - 1 < 2**63
            out[negative] = -((np.uint64(self.modulus) - acc[negative]).astype(np.int64))
            return out.reshape(shape)
        acc = digits[k - 1].astype(object)
        for j in range(k - 2, -1, -1):
            acc = acc * self.moduli[j] + digits[j].astype(object)
        out = np.array([v - self.modulus if v > self.half else v for v in acc], dtype=object)
        return out.reshape(shape)

    def lift_float(self, residues, scale_bits: int = 0) -> np.ndarray:
        """``lift(residues) / 2**scale_bits`` as float64, correctly rounded (the integer is rounded
        once to the nearest double, then divided by a power of two, which is exact): for one
        modulus the value of :func:`pyprivml.dequantize` (phi^-1 and the 2^-l of eqs. 23-24)."""
        x = self.lift(residues)
        if x.dtype == object:
            x = np.array([float(v) for v in x.reshape(-1)], dtype=np.float64).reshape(x.shape)
        else:
            x = x.astype(np.float64)
        return x / 2.0 ** int(scale_bits)


def _prime_hint(moduli) -> str:
    from .field import largest_primes

    return ", ".join(str(q) for q in largest_primes(max(len(moduli), 2)))
