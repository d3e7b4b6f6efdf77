"""Exact modular products through float64 BLAS, in the manner of FFLAS-FFPACK (issue 12).

Every machine has a good float64 GEMM; this backend makes it exact modulo p < 2**32:

1. *centred representation*: a ∈ [0, p) becomes a − p when a > (p − 1)/2, so |a| ≤ (p − 1)/2;
2. *balanced limbs* of the second operand: b = Σ_l b_l 2^(s l) with |b_l| ≤ 2^(s−1), so every
   product |a · b_l| ≤ (p − 1)/2 · 2^(s−1);
3. *exact blocks*: the inner dimension is cut into blocks of kb terms with
   kb · (p − 1)/2 · 2^(s−1) ≤ 2^53, so every entry of A_c[:, block] @ B_l[block] is an integer
   below 2^53 that float64 holds exactly whatever order BLAS adds in;
4. *delayed reduction*: each exact partial is reduced modulo p once (int64), scaled by
   2^(s l) mod p and summed modulo p (uint64).

Primes up to about 2**21 need no limbs (B centred as it is; blocks of at least 4096 terms, 2^23
for p < 2**16). Above, the limb size trades GEMM count against block length: s = 13 (two limbs) for p < 2**26, so a
block holds 2^53 / (2^24 · 2^12) = 2^17 terms and the default prime costs two float64 GEMMs; s
= 11 (three limbs) up to 2**32 (blocks of 2^11 terms). It is a whole backend in the registry
(``backend="blas"``): the matrix products (matmul, matvec, matvec_t, combine) go through BLAS,
the entry-wise operations and quantisation are the NumPy reference's. Never chosen by "auto":
it is the route for machines where the integer kernels are slow (benchmarks/ and BENCHMARKS.md).
BLAS's thread pool is the one threadpoolctl governs (:mod:`pyprivml.threads`).
"""

from __future__ import annotations

import numpy as np

from . import numpy_backend as _ref
from .via_matmul import from_matmul

NAME = "blas"

asarray = _ref.asarray
add, sub, mul = _ref.add, _ref.sub, _ref.mul
quantize, quantize_stochastic = _ref.quantize, _ref.quantize_stochastic

_EXACT = 2.0 ** 53


def plan(p: int, k: int) -> tuple[int, int, int]:
    """(limb bits s, number of limbs, terms per exact block) for prime p and inner dimension k."""
    half = max((int(p) - 1) // 2, 1)
    if _EXACT // (half * half) >= 4096:        # small primes: B centred as it is, one GEMM per block
        return half.bit_length() + 1, 1, max(1, min(int(_EXACT // (half * half)), max(k, 1)))
    s = 13 if p < 2**26 else 11
    limbs = -(-(half.bit_length() + 1) // s)
    per_product = half * (2 ** (s - 1) + 1)      # the top digit may reach 2^(s−1) + 1 after rounding
    block = max(1, min(int(_EXACT // per_product), max(k, 1)))
    return s, limbs, block


def _centred(A, p):
    """A in [0, p) as float64 in [−(p−1)/2, (p−1)/2] (exact: every value is below 2^53)."""
    a = np.asarray(A, dtype=np.float64)
    a -= p * (a > (p - 1) // 2)
    return a


def _limbs(B, p, s, count):
    """Balanced base-2^s digits of the centred B, each float64 with |digit| ≤ 2^(s−1). All in
    float64 and exact: r − 2^s·rint(r / 2^s) and (r − digit) / 2^s are integers below 2^53."""
    r = _centred(B, p)
    base = float(1 << s)
    out = []
    for _ in range(count - 1):
        digit = r - base * np.rint(r / base)
        out.append(digit)
        r = (r - digit) / base
    out.append(r)                                # the top digit: |r| ≤ 2^(s−1) by the choice of count
    return out


def _exact_product(Ac, limbs, p, s, block):
    """Σ_l 2^(s l) (Ac @ limb_l) mod p as int64, blocking the inner dimension."""
    n, k = Ac.shape
    m = limbs[0].shape[1]
    total = np.zeros((n, m), dtype=np.int64)
    scales = [np.uint64(pow(2, s * l, p)) for l in range(len(limbs))]
    pu = np.uint64(p)
    for k0 in range(0, max(k, 1), block):
        a = Ac[:, k0:k0 + block]
        for l, limb in enumerate(limbs):
            residue = (a @ limb[k0:k0 + block]).astype(np.int64)   # exact GEMM: |entries| < 2^53
            residue %= p                                            # in [0, p)
            if l:
                r = residue.view(np.uint64)                          # non-negative: same bits
                r *= scales[l]                                       # < p^2 < 2^64
                r %= pu
            total += residue                                         # < 2^63: reduced once at the end
    total %= p
    return total


def matmul(A, B, p):
    p = int(p)
    n, k = A.shape
    m = B.shape[1]
    if n == 0 or m == 0 or k == 0:
        return np.zeros((n, m), dtype=np.int64)
    s, count, block = plan(p, k)
    return _exact_product(_centred(A, p), _limbs(B, p, s, count), p, s, block)


matvec, matvec_t, combine = from_matmul(matmul)
