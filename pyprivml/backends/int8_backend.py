"""Exact modular products through int8 GEMM (AVX-512 VNNI or AMX-INT8, via oneDNN in torch).

An int8 GEMM with int32 accumulation runs at 10-15 times the float64 rate on CPUs with VNNI or
AMX (measured on AMD Zen 5 and Intel Sapphire Rapids, docs/BENCHMARKS.md). This backend makes it
exact modulo p < 2**32 with *balanced 8-bit limbs*:

1. *a representative in the limbs' range*: L limbs d_l ∈ [−128, 127] represent exactly the
   integers of R_L = [−128 S, 127 S], S = (256^L − 1)/255, which has 256^L elements; with L the
   least such that 256^L ≥ p, every residue a ∈ [0, p) has one representative in R_L (a itself,
   or a − p when a > 127 S);
2. *limbs*: a = Σ_l d_l 256^l (balanced base-256 digits, exact in int64);
3. *exact int32 blocks*: every limb product has |d d'| ≤ 2^14, so a block of at most
   ``_BLOCK = 2^17 − 1`` terms sums below 2^31 — the int32 accumulator of the GEMM never wraps;
4. *delayed reduction*: the L² limb products A_i B_j (each entry below 2^31) are weighted by
   256^(i+j) mod p and summed in int64, reduced once at the end when L² · 2^31 · p < 2^62
   (every p < 2^16, and p < 2^28 with four limbs), else term by term.

So p ≤ 2**8 (p = 251, say) costs one int8 GEMM, p < 2**16 four, and up to 2**32 sixteen: the
route wins for small primes, and on machines whose integer SIMD kernels are slow (Intel with AMX).

Which library: torch's ``torch._int_mm`` (oneDNN underneath) is the well-kept int8 GEMM that is
already among our pinned dependencies and uses VNNI and AMX where the CPU has them; a kernel of
our own would have to re-create oneDNN's AMX tile configuration and packing. Without VNNI or AMX
oneDNN's AVX2 int8 path multiplies with ``vpmaddubsw``, which saturates pairs at 2^15, so this
backend refuses to load there, and on load it verifies a worst-case block (every limb at ±128)
bit for bit. Only the matrix products go through int8 GEMM; the entry-wise operations and
quantisation are the Numba backend's, whose parallel loops also cut the limbs and reduce the
results. The GEMM runs on torch's intra-op pool, sized like Numba's by
:mod:`pyprivml.backends.threads`.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from . import numpy_backend as _ref
from . import threads
from .cpu import has_exact_int8

try:
    import torch
except ImportError as exc:  # torch is an optional dependency: the backend is then unavailable
    raise ImportError(f"the int8 backend needs torch ({exc})") from exc

NAME = "int8"

#: Terms per exact int32 block: (2^17 − 1) · 2^14 < 2^31.
_BLOCK = (1 << 17) - 1


def _require_exact_int8() -> None:
    if not has_exact_int8():
        raise ImportError("the int8 backend needs a CPU with AVX-512 VNNI, AVX-VNNI, AMX-INT8 or Arm "
                          "dot-product instructions (oneDNN's plain AVX2 int8 path saturates); this "
                          "CPU has none of them")
    a = torch.full((2, _BLOCK), -128, dtype=torch.int8)
    got = torch._int_mm(a, a.T.contiguous())
    if int(got[0, 0]) != _BLOCK * 128 * 128 or int(got.min()) != int(got.max()):
        raise ImportError("the int8 backend's worst-case exactness check failed on this CPU "
                          f"(got {int(got[0, 0])}, want {_BLOCK * 128 * 128})")


_require_exact_int8()

from numba import njit, prange

from . import numba_backend as _elementwise

asarray = _ref.asarray
add, sub, mul = _elementwise.add, _elementwise.sub, _elementwise.mul
quantize, quantize_stochastic = _elementwise.quantize, _elementwise.quantize_stochastic


class LimbScheme(NamedTuple):
    """How residues modulo p are cut into int8 limbs: ``count`` balanced limbs of ``bits`` bits
    and, for 7-bit limbs, Karatsuba's cross products (a_i + a_j)(b_i + b_j), whose limb sums
    still lie in [−128, 126]. ``products`` is the number of int8 GEMMs per exact block."""

    bits: int
    count: int
    karatsuba: bool

    @property
    def products(self) -> int:
        return self.count * (self.count + 1) // 2 if self.karatsuba else self.count**2


def limb_scheme(p: int) -> LimbScheme:
    """The scheme with the fewest int8 GEMMs for prime p: L² schoolbook products of 8-bit limbs
    (L the least with 256^L ≥ p) or L(L + 1)/2 Karatsuba products of 7-bit limbs (128^L ≥ p).

    >>> [limb_scheme(p).products for p in (251, 65521, 2**25 - 39, 2**32 - 5)]
    [1, 4, 10, 15]
    """
    def count(bits):
        limbs, reach = 1, 1 << bits
        while reach < p:
            limbs, reach = limbs + 1, reach << bits
        return limbs

    schoolbook, karatsuba = LimbScheme(8, count(8), False), LimbScheme(7, count(7), True)
    return karatsuba if karatsuba.products < schoolbook.products else schoolbook


@njit(parallel=True, cache=True)
def _limbs_kernel(A, p, bits, out):
    """out[l] = the l-th balanced base-2^bits digit of A's representative in R_L (steps 1-2)."""
    count = out.shape[0]
    half = np.int64(1) << (bits - 1)
    mask = (np.int64(1) << bits) - 1
    top = (half - 1) * ((np.int64(1) << (bits * count)) - 1) // mask
    for i in prange(A.shape[0]):
        for j in range(A.shape[1]):
            r = np.int64(A[i, j])
            if r > top:
                r -= p
            for l in range(count):
                digit = ((r + half) & mask) - half
                out[l, i, j] = digit
                r = (r - digit) >> bits


def limbs(A, p: int, scheme: LimbScheme, out=None) -> np.ndarray:
    """The L balanced base-2^bits digits of every entry of A, as int8 of shape (L,) + A.shape:
    Σ_l digits[l] 2^(bits·l) ≡ A (mod p) and every digit lies in [−2^(bits−1), 2^(bits−1))."""
    out = np.empty((scheme.count,) + A.shape, dtype=np.int8) if out is None else out
    if A.size:
        threads.use_numba_threads()
        _limbs_kernel(A, np.int64(p), np.int64(scheme.bits), out)
    return out


def _products(scheme: LimbScheme, p: int) -> list[tuple[tuple, tuple, int]]:
    """(limbs of A summed, limbs of B summed, weight mod p) per int8 GEMM, w = 2^bits:
    schoolbook A_i B_j with weight w^(i+j); Karatsuba D_i = A_i B_i and
    M_ij = (A_i + A_j)(B_i + B_j), i < j, which give
    Σ_ij A_i B_j w^(i+j) = Σ_i D_i w^(2i) + Σ_(i<j) (M_ij − D_i − D_j) w^(i+j)."""
    w, count = 1 << scheme.bits, scheme.count
    if not scheme.karatsuba:
        return [((i,), (j,), pow(w, i + j, p)) for i in range(count) for j in range(count)]
    diagonal = [((i,), (i,), (pow(w, 2 * i, p) - sum(pow(w, i + j, p) for j in range(count) if j != i)) % p)
                for i in range(count)]
    return diagonal + [((i, j), (i, j), pow(w, i + j, p)) for i in range(count) for j in range(i + 1, count)]


@njit(cache=True, inline="always")
def _mod_signed(acc, p, pinv):
    """acc (int64, |acc| < 2^63) modulo p in [0, p): a float quotient estimate brings it within
    2^11 + 2p of zero (float64 carries 53 bits), a second one within [−p, 2p), corrections end it."""
    r = acc - np.int64(np.float64(acc) * pinv) * p
    r -= np.int64(np.floor(np.float64(r) * pinv)) * p
    r = r + p if r < 0 else r
    return r - p if r >= p else r


@njit(parallel=True, cache=True)
def _accumulate_kernel(partial, weight, reduce_each, p, pinv, out):
    """out += weight · partial, reduced term by term if ``reduce_each`` (step 4)."""
    for x in prange(out.shape[0]):
        row, src = out[x], partial[x]
        if reduce_each:
            for y in range(row.shape[0]):
                row[y] += _mod_signed(np.int64(src[y]) * weight, p, pinv)
        else:
            for y in range(row.shape[0]):
                row[y] += np.int64(src[y]) * weight


@njit(parallel=True, cache=True)
def _finish_kernel(out, p, pinv):
    for x in prange(out.shape[0]):
        row = out[x]
        for y in range(row.shape[0]):
            row[y] = _mod_signed(row[y], p, pinv)


_local = threading.local()


def _workspace(name: str, shape: tuple, dtype) -> np.ndarray:
    """A scratch array kept between calls (per thread): fresh pages of a large buffer cost more
    to fault in than the int8 GEMM that fills them."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffers = _local.__dict__.setdefault("buffers", {})
    if name not in buffers or buffers[name].size < size:
        buffers[name] = np.empty(size, dtype=np.uint8)
    return buffers[name][:size].view(dtype).reshape(shape)


def _operand(limbs_t, which: tuple):
    """One limb, or for a Karatsuba cross product a sum of two (in [−128, 126] for 7 bits)."""
    return limbs_t[which[0]] if len(which) == 1 else limbs_t[which[0]] + limbs_t[which[1]]


def _block_product(a_limbs, b_limbs, p, scheme, out):
    """out = the exact product of one block of at most _BLOCK inner terms, modulo p. The int64
    sum takes the weighted products unreduced when (products) · 2^31 · p < 2^62, else reduced
    one by one."""
    partial = _workspace("partial", out.shape, np.int32)
    partial_t = torch.from_numpy(partial)
    a_t, b_t = torch.from_numpy(a_limbs), torch.from_numpy(b_limbs)
    reduce_each = scheme.products * (1 << 31) * p >= 1 << 62
    out[...] = 0
    for a_which, b_which, weight in _products(scheme, p):
        # every entry of a product of limbs (or limb sums) is at most 2^14: |partial| < 2^31 (step 3)
        torch._int_mm(_operand(a_t, a_which), _operand(b_t, b_which), out=partial_t)
        _accumulate_kernel(partial, np.int64(weight), reduce_each, np.int64(p), 1.0 / p, out)
    _finish_kernel(out, np.int64(p), 1.0 / p)


def matmul(A, B, p):
    p = int(p)
    n, k = A.shape
    m = B.shape[1]
    out = np.zeros((n, m), dtype=np.int64)
    if out.size == 0 or k == 0:
        return out
    scheme = limb_scheme(p)
    torch.set_num_threads(threads.use_numba_threads())
    a_limbs = limbs(A, p, scheme, _workspace("a", (scheme.count,) + A.shape, np.int8))
    b_limbs = limbs(B, p, scheme, _workspace("b", (scheme.count,) + B.shape, np.int8))
    if k <= _BLOCK:
        _block_product(a_limbs, b_limbs, p, scheme, out)
        return out
    part = np.empty_like(out)
    for k0 in range(0, k, _BLOCK):                     # several exact blocks, summed modulo p
        _block_product(np.ascontiguousarray(a_limbs[:, :, k0:k0 + _BLOCK]),
                       np.ascontiguousarray(b_limbs[:, k0:k0 + _BLOCK]), p, scheme, part)
        out += part
        out %= p
    return out


def matvec(A, x, p):
    return matmul(A, np.asarray(x).reshape(-1, 1), p).reshape(-1)


def matvec_t(A, x, p):
    return matmul(np.ascontiguousarray(np.asarray(A).T), np.asarray(x).reshape(-1, 1), p).reshape(-1)


def combine(C, X, p):
    return matmul(C, X, p)
