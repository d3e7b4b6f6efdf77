"""Exact modular products through int8 GEMM (AVX-512 VNNI or AMX-INT8, via oneDNN in torch).

An int8 GEMM with int32 accumulation runs at 10-15 times the float64 rate on CPUs with VNNI or
AMX (720 G MAC/s against 56 for dgemm on the Zen 5 of docs/BENCHMARKS.md; issue 12 measured 527
on an AMX Xeon). This backend makes it exact modulo p < 2**32 with *balanced limbs* of b = 8 or
7 bits (w = 2^b, h = w/2):

1. *a representative in the limbs' range*: L limbs d_l ∈ [−h, h) represent exactly the integers
   of R_L = [−h S, (h−1) S], S = (w^L − 1)/(w − 1), which has w^L elements; with L the least
   such that w^L ≥ p, every residue a ∈ [0, p) has one representative in R_L (a itself, or
   a − p when a > (h−1) S);
2. *limbs*: a = Σ_l d_l w^l (balanced base-w digits, exact in int64);
3. *products*: schoolbook takes the L² limb products A_i B_j (weight w^(i+j)); with 7-bit limbs
   Karatsuba takes the L(L+1)/2 products D_i = A_i B_i and M_ij = (A_i + A_j)(B_i + B_j), whose
   limb sums still lie in [−128, 126], and Σ A_i B_j w^(i+j) = Σ D_i w^(2i) + Σ (M_ij − D_i − D_j)
   w^(i+j) (:func:`limb_scheme` takes whichever needs fewer GEMMs: 1 for p < 2^8, 4 below 2^16,
   10 at 2^25, 15 up to 2^32);
4. *exact int32 blocks*: every entry of a product of limbs or limb sums is at most 2^14, so a
   block of at most ``_BLOCK = 2^17 − 1`` terms sums below 2^31: the GEMM's int32 accumulator
   never wraps;
5. *delayed reduction*: the products of a block, weighted mod p, are summed in int64 in one pass
   and reduced once when (products) · 2^31 · p < 2^62, else term by term.

Which library: torch's ``torch._int_mm`` (oneDNN underneath) is the well-kept int8 GEMM that is
already among our pinned dependencies and uses VNNI and AMX where the CPU has them; a kernel of
our own would have to re-create oneDNN's AMX tile configuration and packing. Without VNNI or AMX
oneDNN's AVX2 int8 path multiplies with ``vpmaddubsw``, which saturates pairs at 2^15, so this
backend refuses to load there, and on load it verifies a worst-case block (every limb at −128)
bit for bit. Only the matrix products go through int8 GEMM; the entry-wise operations and
quantisation are the Numba backend's, whose parallel loops also cut the limbs and sum the
products. The GEMM runs on torch's intra-op pool, sized like Numba's by
:mod:`pyprivml.backends.threads`.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from . import numpy_backend as _ref
from . import threads
from .cpu import has_exact_int8
from .via_matmul import from_matmul

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


def _plane_limbs(scheme: LimbScheme) -> list[tuple]:
    """The limbs summed into each operand plane: every limb alone, then for Karatsuba every pair
    i < j (a_i + a_j ∈ [−128, 126] for 7-bit limbs)."""
    single = [(l,) for l in range(scheme.count)]
    if not scheme.karatsuba:
        return single
    return single + [(i, j) for i in range(scheme.count) for j in range(i + 1, scheme.count)]


@njit(parallel=True, cache=True)
def _planes_kernel(A, p, bits, count, pairs, out):
    """out[l] = the l-th balanced base-2^bits digit of A's representative in R_L (steps 1-2);
    out[count + g] = the sum of digits pairs[g, 0] and pairs[g, 1]. Row by row, each step a
    loop over the row that the compiler vectorises."""
    half = np.int64(1) << (bits - 1)
    mask = (np.int64(1) << bits) - 1
    top = (half - 1) * ((np.int64(1) << (bits * count)) - 1) // mask
    width = A.shape[1]
    for i in prange(A.shape[0]):
        r = np.empty(width, dtype=np.int64)
        for j in range(width):
            value = np.int64(A[i, j])
            r[j] = value - p if value > top else value
        for l in range(count):
            row = out[l, i]
            for j in range(width):
                digit = ((r[j] + half) & mask) - half
                row[j] = digit
                r[j] = (r[j] - digit) >> bits
        for g in range(pairs.shape[0]):
            row, first, second = out[count + g, i], out[pairs[g, 0], i], out[pairs[g, 1], i]
            for j in range(width):
                row[j] = first[j] + second[j]


def planes(A, p: int, scheme: LimbScheme, out=None) -> np.ndarray:
    """The operand planes of A as int8, shape (planes,) + A.shape: first the L balanced
    base-2^bits digits (Σ_l digits[l] 2^(bits·l) ≡ A (mod p), each in [−2^(bits−1), 2^(bits−1))),
    then for Karatsuba the sums of two digits, in the order of :func:`_plane_limbs`."""
    limbs = _plane_limbs(scheme)
    out = np.empty((len(limbs),) + A.shape, dtype=np.int8) if out is None else out
    pairs = np.array([pair for pair in limbs if len(pair) == 2], dtype=np.int64).reshape(-1, 2)
    if A.size:
        threads.use_numba_threads()
        _planes_kernel(A, np.int64(p), np.int64(scheme.bits), np.int64(scheme.count), pairs, out)
    return out


def _products(scheme: LimbScheme, p: int) -> list[tuple[int, int, int]]:
    """(plane of A, plane of B, weight mod p) per int8 GEMM, w = 2^bits: schoolbook A_i B_j with
    weight w^(i+j); Karatsuba D_i = A_i B_i and M_ij = (A_i + A_j)(B_i + B_j), i < j, which give
    Σ_ij A_i B_j w^(i+j) = Σ_i D_i w^(2i) + Σ_(i<j) (M_ij − D_i − D_j) w^(i+j)."""
    w, count = 1 << scheme.bits, scheme.count
    if not scheme.karatsuba:
        return [(i, j, pow(w, i + j, p)) for i in range(count) for j in range(count)]
    diagonal = [(i, i, (pow(w, 2 * i, p) - sum(pow(w, i + j, p) for j in range(count) if j != i)) % p)
                for i in range(count)]
    pairs = [limbs for limbs in _plane_limbs(scheme) if len(limbs) == 2]
    return diagonal + [(count + g, count + g, pow(w, i + j, p)) for g, (i, j) in enumerate(pairs)]


@njit(cache=True, inline="always")
def _mod_signed(acc, p, pinv):
    """acc (int64, |acc| < 2^63) modulo p in [0, p): a float quotient estimate brings it within
    2^11 + 2p of zero (float64 carries 53 bits), a second one within [−p, 2p), corrections end it."""
    r = acc - np.int64(np.float64(acc) * pinv) * p
    r -= np.int64(np.floor(np.float64(r) * pinv)) * p
    r = r + p if r < 0 else r
    return r - p if r >= p else r


@njit(parallel=True, cache=True)
def _weighted_sum_kernel(partials, weights, reduce_each, accumulate, p, pinv, out):
    """out = (out if accumulate) + Σ_g weights[g] · partials[g] modulo p, in one pass (step 4):
    the int64 sum takes the terms unreduced, or reduced one by one if ``reduce_each``."""
    m = out.shape[1]
    for x in prange(out.shape[0]):
        acc = np.zeros(m, dtype=np.int64)
        for g in range(partials.shape[0]):
            src, w = partials[g, x], weights[g]
            if reduce_each:
                for y in range(m):
                    acc[y] += _mod_signed(np.int64(src[y]) * w, p, pinv)
            else:
                for y in range(m):
                    acc[y] += np.int64(src[y]) * w
        row = out[x]
        for y in range(m):
            row[y] = _mod_signed(acc[y] + row[y] if accumulate else acc[y], p, pinv)


_local = threading.local()
#: Bytes of int32 partial products held at once: A's rows are taken in chunks to stay below it.
_PARTIAL_BYTES = 64 << 20


def _workspace(name: str, shape: tuple, dtype) -> np.ndarray:
    """A scratch array kept between calls (per thread): fresh pages of a large buffer cost more
    to fault in than the int8 GEMM that fills them."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffers = _local.__dict__.setdefault("buffers", {})
    if name not in buffers or buffers[name].size < size:
        buffers[name] = np.empty(size, dtype=np.uint8)
    return buffers[name][:size].view(dtype).reshape(shape)


def matmul(A, B, p):
    p = int(p)
    n, k = A.shape
    m = B.shape[1]
    if n * m == 0 or k == 0:
        return np.zeros((n, m), dtype=np.int64)
    out = np.empty((n, m), dtype=np.int64)             # every entry written by the first block
    scheme = limb_scheme(p)
    products = _products(scheme, p)
    weights = np.array([weight for _, _, weight in products], dtype=np.int64)
    reduce_each = len(products) * (1 << 31) * p >= 1 << 62
    torch.set_num_threads(threads.use_numba_threads())
    count = len(_plane_limbs(scheme))
    a_planes = planes(A, p, scheme, _workspace("a", (count,) + A.shape, np.int8))
    b_planes = planes(B, p, scheme, _workspace("b", (count,) + B.shape, np.int8))
    rows = max(1, min(n, _PARTIAL_BYTES // (len(products) * m * 4)))
    for k0 in range(0, k, _BLOCK):                     # exact int32 blocks along k (step 3)
        whole = k <= _BLOCK
        a_t = torch.from_numpy(a_planes if whole else np.ascontiguousarray(a_planes[:, :, k0:k0 + _BLOCK]))
        b_t = torch.from_numpy(b_planes if whole else np.ascontiguousarray(b_planes[:, k0:k0 + _BLOCK]))
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            partials = _workspace("partial", (len(products), r1 - r0, m), np.int32)  # contiguous
            partials_t = torch.from_numpy(partials)
            for g, (a_plane, b_plane, _) in enumerate(products):
                # every entry of a product of planes is at most 2^14 in size: |partial| < 2^31
                torch._int_mm(a_t[a_plane, r0:r1], b_t[b_plane], out=partials_t[g])
            _weighted_sum_kernel(partials, weights, reduce_each, k0 > 0, np.int64(p), 1.0 / p, out[r0:r1])
    return out


matvec, matvec_t, combine = from_matmul(matmul)
