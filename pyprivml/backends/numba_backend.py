"""The Numba backend: the default CPU backend, parallel, equal bit for bit to the NumPy reference.

How the kernels stay exact and fast (DESIGN.md, "Delayed reduction"):

* Field elements are held as uint32 (p < 2**32) and multiplied as zero-extended uint64, so LLVM
  emits 32x32->64-bit vector multiplies (``vpmuludq``). Products are summed in uint64 and reduced
  once per block of at most ``max_delayed_terms(p)`` terms; a reduced carry counts as one term.
* For p close to 2**32 fewer than 16 products fit in 64 bits, so one operand is split into 16-bit
  halves, b = b_lo + 2**16 b_hi: each half-product is below 2**48 and tens of thousands of them fit.
* The reduction ``acc mod p`` avoids the (unvectorisable, slow) 64-bit division: a quotient estimate
  in float64 brings acc below 2**35 in absolute value, a second estimate below 2p, and two
  conditional corrections land in [0, p) exactly (:func:`_mod`).
* ``modmatmul`` copies A and B^T once into contiguous k-blocks (:func:`_pack`) and holds 4x4
  output tiles in sixteen uint64 accumulators; ``combine`` streams the long rows of X once in
  column chunks; ``matvec`` reads four rows of A per pass over x.
* Stochastic rounding draws u_j from the same SplitMix64 counter stream as the reference, indexed
  by the output's flat index j, so the bits never depend on the thread count.
* Every kernel is ``cache=True`` (compiled once per machine) and parallel over independent output
  blocks; BLAS is held to one thread meanwhile (:mod:`pyprivml.backends.threads`).
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np
from numba import njit, prange

from . import threads
from .bounds import max_delayed_terms
from .numpy_backend import GOLDEN_GAMMA, MIX1, MIX2

NAME = "numba"

_MASK32 = np.uint64(0xFFFFFFFF)
_HALF_BITS = 16
_HALF_MASK = (1 << _HALF_BITS) - 1
#: Below this many delayed terms the operand is split into 16-bit halves (see module docstring).
_MIN_DIRECT_TERMS = 16
#: Work (multiply-adds or elements) below which a kernel runs on the calling thread alone: a
#: parallel launch costs tens of microseconds, and milliseconds when the cores are oversubscribed.
_PARALLEL_MIN = 1 << 20
#: Work above which BLAS's pool is held to one thread meanwhile (the limit costs ~50 us).
_BLAS_LIMIT_MIN = 1 << 23


def asarray(x):
    return np.asarray(x)


# -- exact reduction ------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _mod(acc, p, pinv):
    """acc (uint64, any value) modulo p (int64, 2 < p < 2**32) without integer division.

    q1 = trunc(float(acc) / p) is within 2**12 / p + 1 of the true quotient, so
    r1 = acc - q1 p (wrapping, read as signed) has |r1| < 2**12 + 2p < 2**35, exact in float64;
    q2 = floor(r1 / p) is then off by at most one, and two conditional steps finish the job.
    """
    q1 = np.uint64(np.float64(acc) * pinv)
    r = np.int64(acc - q1 * np.uint64(p))
    q2 = np.int64(np.floor(np.float64(r) * pinv))
    r -= q2 * p
    if r < 0:
        r += p
    if r >= p:
        r -= p
    return r


# -- matmul: 4x4 register tiles over B transposed ---------------------------------------------

@njit(cache=True, inline="always")
def _tile(A, Bt, out, kb, i, j, reduce_now, p, pinv):
    """out[i:i+4, j:j+4] += A[kb, i:i+4] @ Bt[kb, j:j+4].T (one packed k-block), reduced if asked."""
    # Unsigned indices skip Numba's negative-index wrap-around, which would otherwise turn the
    # contiguous vector loads into gathers.
    ukb = np.uint64(kb)
    i0 = np.uint64(i)
    i1 = np.uint64(i + 1)
    i2 = np.uint64(i + 2)
    i3 = np.uint64(i + 3)
    j0 = np.uint64(j)
    j1 = np.uint64(j + 1)
    j2 = np.uint64(j + 2)
    j3 = np.uint64(j + 3)
    c00 = out[i, j]
    c01 = out[i, j + 1]
    c02 = out[i, j + 2]
    c03 = out[i, j + 3]
    c10 = out[i + 1, j]
    c11 = out[i + 1, j + 1]
    c12 = out[i + 1, j + 2]
    c13 = out[i + 1, j + 3]
    c20 = out[i + 2, j]
    c21 = out[i + 2, j + 1]
    c22 = out[i + 2, j + 2]
    c23 = out[i + 2, j + 3]
    c30 = out[i + 3, j]
    c31 = out[i + 3, j + 1]
    c32 = out[i + 3, j + 2]
    c33 = out[i + 3, j + 3]
    for tt in range(A.shape[2]):
        t = np.uint64(tt)
        x0 = np.uint64(A[ukb, i0, t])
        x1 = np.uint64(A[ukb, i1, t])
        x2 = np.uint64(A[ukb, i2, t])
        x3 = np.uint64(A[ukb, i3, t])
        y0 = np.uint64(Bt[ukb, j0, t])
        y1 = np.uint64(Bt[ukb, j1, t])
        y2 = np.uint64(Bt[ukb, j2, t])
        y3 = np.uint64(Bt[ukb, j3, t])
        c00 += x0 * y0
        c01 += x0 * y1
        c02 += x0 * y2
        c03 += x0 * y3
        c10 += x1 * y0
        c11 += x1 * y1
        c12 += x1 * y2
        c13 += x1 * y3
        c20 += x2 * y0
        c21 += x2 * y1
        c22 += x2 * y2
        c23 += x2 * y3
        c30 += x3 * y0
        c31 += x3 * y1
        c32 += x3 * y2
        c33 += x3 * y3
    if reduce_now:
        c00 = np.uint64(_mod(c00, p, pinv))
        c01 = np.uint64(_mod(c01, p, pinv))
        c02 = np.uint64(_mod(c02, p, pinv))
        c03 = np.uint64(_mod(c03, p, pinv))
        c10 = np.uint64(_mod(c10, p, pinv))
        c11 = np.uint64(_mod(c11, p, pinv))
        c12 = np.uint64(_mod(c12, p, pinv))
        c13 = np.uint64(_mod(c13, p, pinv))
        c20 = np.uint64(_mod(c20, p, pinv))
        c21 = np.uint64(_mod(c21, p, pinv))
        c22 = np.uint64(_mod(c22, p, pinv))
        c23 = np.uint64(_mod(c23, p, pinv))
        c30 = np.uint64(_mod(c30, p, pinv))
        c31 = np.uint64(_mod(c31, p, pinv))
        c32 = np.uint64(_mod(c32, p, pinv))
        c33 = np.uint64(_mod(c33, p, pinv))
    out[i, j] = c00
    out[i, j + 1] = c01
    out[i, j + 2] = c02
    out[i, j + 3] = c03
    out[i + 1, j] = c10
    out[i + 1, j + 1] = c11
    out[i + 1, j + 2] = c12
    out[i + 1, j + 3] = c13
    out[i + 2, j] = c20
    out[i + 2, j + 1] = c21
    out[i + 2, j + 2] = c22
    out[i + 2, j + 3] = c23
    out[i + 3, j] = c30
    out[i + 3, j + 1] = c31
    out[i + 3, j + 2] = c32
    out[i + 3, j + 3] = c33


# Cache blocks: a KC-long slice of 4 rows of A (4 KiB) stays in L1 while it meets an NC x KC
# block of B^T (256 KiB, L2); each thread owns MC rows of the output.
_MC, _NC, _KC = 64, 256, 256


@njit(cache=True, parallel=True)
def _matmul_kernel(A, Bt, p, pinv, terms, out):
    """out (uint64 zeros, (n, m)) = sum over k-blocks kb of A[kb] @ Bt[kb].T, mod p.

    A (nkb, n, kc) and Bt (nkb, m, kc) are packed by :func:`_pack`: n, m multiples of 4, and each
    k-block contiguous, so a block's rows sit 4 kc bytes apart rather than 4 k bytes (a multiple
    of 4 KiB for the power-of-two n that would make them collide in the same cache sets).
    `terms` is how many products fit in a uint64 accumulator (a reduced carry counts as one).
    """
    nkb, n, kc = A.shape
    m = Bt.shape[1]
    for ib in prange((n + _MC - 1) // _MC):
        i_lo = ib * _MC
        i_hi = min(n, i_lo + _MC)
        for j_lo in range(0, m, _NC):
            j_hi = min(m, j_lo + _NC)
            pending = 0
            for kb in range(nkb):
                pending += kc
                reduce_now = kb == nkb - 1 or pending + kc > terms
                for i in range(i_lo, i_hi, 4):
                    for j in range(j_lo, j_hi, 4):
                        _tile(A, Bt, out, kb, i, j, reduce_now, p, pinv)
                if reduce_now:
                    pending = 1


def _pack(a, kc):
    """a (rows, k), any integer dtype and strides, as uint32 blocks (nkb, rows4, kc): rows padded
    by zeros to a multiple of 4 and k to a multiple of kc (zeros add nothing to the products)."""
    rows, k = a.shape
    nkb = -(-k // kc)
    out = np.zeros((nkb, -(-rows // 4) * 4, kc), dtype=np.uint32)
    for kb in range(nkb):
        part = a[:, kb * kc:(kb + 1) * kc]
        out[kb, :rows, :part.shape[1]] = part
    return out


def _split_halves(a):
    """(a & 0xFFFF, a >> 16) for entries in [0, 2**32): each half-product stays below 2**48."""
    a = a.astype(np.uint32, copy=False)
    return a & np.uint32(_HALF_MASK), a >> np.uint32(_HALF_BITS)


def _terms(p, bound_b):
    """How many products a b (a <= p - 1, b <= bound_b) a uint64 sum holds; the kernels count a
    reduced carry (< p <= (p - 1) bound_b) as one of them."""
    return ((1 << 64) - 1) // ((p - 1) * bound_b)


def _direct(p):
    return max_delayed_terms(p) >= _MIN_DIRECT_TERMS


def _combine_halves(lo, hi, p):
    # lo + 2**16 hi (mod p); both are int64 in [0, p), so 2**16 hi < 2**48.
    return (lo + ((hi << _HALF_BITS) % p)) % p


# Numba's fallback threading layer ("workqueue", used when neither OpenMP nor TBB loads) aborts
# the process if two Python threads launch parallel kernels at once, as the in-process transport's
# ranks do; under it, launches are serialised. OpenMP and TBB need no lock.
_LAUNCH_LOCK = threading.Lock()
_layer_is_threadsafe = None


def _launch_is_threadsafe() -> bool:
    global _layer_is_threadsafe
    if _layer_is_threadsafe is None:
        try:
            _layer_is_threadsafe = numba.threading_layer() != "workqueue"
        except ValueError:  # no parallel kernel has run yet: the layer is still unknown
            return False
    return _layer_is_threadsafe


def _run(kernel, *args, work):
    """Call a parallel kernel with a thread count that pays for `work`, BLAS quiet if large."""
    if not _launch_is_threadsafe():
        with _LAUNCH_LOCK:
            return _launch(kernel, *args, work=work)
    return _launch(kernel, *args, work=work)


def _launch(kernel, *args, work):
    if work < _PARALLEL_MIN:
        threads.use_numba_threads(1)
        return kernel(*args)
    threads.use_numba_threads()
    if work >= _BLAS_LIMIT_MIN:
        with threads.limit_blas_threads(1):
            return kernel(*args)
    return kernel(*args)


def _matmul_u32(A, Bt, p, terms):
    nkb, n, kc = A.shape
    out = np.zeros((n, Bt.shape[1]), dtype=np.uint64)
    _run(_matmul_kernel, A, Bt, np.int64(p), 1.0 / p, np.int64(terms), out,
         work=n * out.shape[1] * nkb * kc)
    return out.view(np.int64)


def matmul(A, B, p):
    n, k = A.shape
    m = B.shape[1]
    if n == 0 or m == 0 or k == 0:
        return np.zeros((n, m), dtype=np.int64)
    if n < 4:  # a few long rows: the streaming kernel wins and needs no padding
        return combine(A, B, p)
    if m < 4:  # a few columns (X w for r stochastic copies of w): read A as it is, no packed copy
        return np.stack([matvec(A, B[:, j], p) for j in range(m)], axis=1)
    if _direct(p):
        terms = _terms(p, p - 1)
        kc = min(_KC, terms - 1, k)
        out = _matmul_u32(_pack(A, kc), _pack(B.T, kc), p, terms)
    else:
        terms = _terms(p, _HALF_MASK)
        kc = min(_KC, terms - 1, k)
        A_packed = _pack(A, kc)
        lo, hi = _split_halves(B.T)
        out = _combine_halves(_matmul_u32(A_packed, _pack(lo, kc), p, terms),
                              _matmul_u32(A_packed, _pack(hi, kc), p, terms), p)
    if out.shape != (n, m):
        out = np.ascontiguousarray(out[:n, :m])
    return out


# -- matvec: four rows of A against x ----------------------------------------------------------

@njit(cache=True, parallel=True)
def _matvec_kernel(A, x, p, pinv, terms, out):
    """out (int64, n) = A (n, k, C-contiguous, any unsigned-safe int dtype) @ x (uint32) mod p."""
    n, k = A.shape
    kc = terms - 1
    nq = (n + 3) // 4
    for q in prange(nq):
        i = 4 * q
        r1 = min(i + 1, n - 1)  # rows past the end repeat the last one and are not stored
        r2 = min(i + 2, n - 1)
        r3 = min(i + 3, n - 1)
        c0 = np.uint64(0)
        c1 = np.uint64(0)
        c2 = np.uint64(0)
        c3 = np.uint64(0)
        for k_lo in range(0, k, kc):
            k_hi = min(k, k_lo + kc)
            a0 = A[i, k_lo:k_hi]  # zero-based slices: see _tile
            a1 = A[r1, k_lo:k_hi]
            a2 = A[r2, k_lo:k_hi]
            a3 = A[r3, k_lo:k_hi]
            xs = x[k_lo:k_hi]
            for t in range(k_hi - k_lo):
                y = np.uint64(xs[t])
                c0 += (np.uint64(a0[t]) & _MASK32) * y
                c1 += (np.uint64(a1[t]) & _MASK32) * y
                c2 += (np.uint64(a2[t]) & _MASK32) * y
                c3 += (np.uint64(a3[t]) & _MASK32) * y
            c0 = np.uint64(_mod(c0, p, pinv))
            c1 = np.uint64(_mod(c1, p, pinv))
            c2 = np.uint64(_mod(c2, p, pinv))
            c3 = np.uint64(_mod(c3, p, pinv))
        out[i] = np.int64(c0)
        if i + 1 < n:
            out[i + 1] = np.int64(c1)
        if i + 2 < n:
            out[i + 2] = np.int64(c2)
        if i + 3 < n:
            out[i + 3] = np.int64(c3)


def _stream_operand(X):
    """X as a C-contiguous array the kernels read directly: uint32 and int64 are used as they are
    (one compiled specialisation each; int64 is what every pyprivml function returns), any other
    integer dtype or layout is converted to uint32 once."""
    if X.dtype in (np.uint32, np.int64) and X.flags.c_contiguous:
        return X
    return np.ascontiguousarray(X, dtype=np.uint32)


def _matvec_u32(A, x, p, bound_x):
    out = np.empty(A.shape[0], dtype=np.int64)
    _run(_matvec_kernel, A, x, np.int64(p), 1.0 / p, np.int64(_terms(p, bound_x)), out,
         work=A.size)
    return out


def matvec(A, x, p):
    n, k = A.shape
    if n == 0 or k == 0:
        return np.zeros(n, dtype=np.int64)
    A = _stream_operand(A)
    if _direct(p):
        return _matvec_u32(A, x.astype(np.uint32), p, p - 1)
    lo, hi = _split_halves(x)
    return _combine_halves(_matvec_u32(A, lo, p, _HALF_MASK), _matvec_u32(A, hi, p, _HALF_MASK), p)


def matvec_t(A, x, p):
    return combine(x.reshape(1, -1), A, p).reshape(-1)


# -- combine: a small matrix times a few very long rows ----------------------------------------

_CHUNK = 1024  # columns of X per step: two rows of uint64 accumulators (16 KiB) stay in L1


@njit(cache=True, parallel=True)
def _combine_kernel(C, X, p, pinv, terms, nparts, out):
    """out (int64, (n, L)) = C (n, k, uint32) @ X (k, L) mod p, streaming X's columns once.

    Each chunk of _CHUNK columns of X is reused by all n rows of C. Every load of X feeds two
    output rows, and eight, four or one rows of X are folded per pass over the two uint64
    accumulator rows; they are reduced in place when the next products could wrap. Unsigned
    indices: see _tile.
    """
    n, k = C.shape
    L = X.shape[1]
    per = (L + nparts - 1) // nparts
    for part in prange(nparts):
        acc0 = np.empty(_CHUNK, dtype=np.uint64)
        acc1 = np.empty(_CHUNK, dtype=np.uint64)
        for lo in range(part * per, min(L, (part + 1) * per), _CHUNK):
            w = min(_CHUNK, L - lo, (part + 1) * per - lo)
            ulo = np.uint64(lo)
            for i in range(0, n, 2):
                i1 = min(i + 1, n - 1)  # an odd last row is computed twice and stored once
                for t in range(w):
                    acc0[t] = 0
                    acc1[t] = 0
                pending = 0
                r = 0
                while r < k:
                    if k - r >= 8 and pending + 8 <= terms:
                        a0 = np.uint64(C[i, r + 0])
                        a1 = np.uint64(C[i, r + 1])
                        a2 = np.uint64(C[i, r + 2])
                        a3 = np.uint64(C[i, r + 3])
                        a4 = np.uint64(C[i, r + 4])
                        a5 = np.uint64(C[i, r + 5])
                        a6 = np.uint64(C[i, r + 6])
                        a7 = np.uint64(C[i, r + 7])
                        b0 = np.uint64(C[i1, r + 0])
                        b1 = np.uint64(C[i1, r + 1])
                        b2 = np.uint64(C[i1, r + 2])
                        b3 = np.uint64(C[i1, r + 3])
                        b4 = np.uint64(C[i1, r + 4])
                        b5 = np.uint64(C[i1, r + 5])
                        b6 = np.uint64(C[i1, r + 6])
                        b7 = np.uint64(C[i1, r + 7])
                        r0 = np.uint64(r)
                        for t in range(w):
                            c = ulo + np.uint64(t)
                            x0 = np.uint64(X[r0 + np.uint64(0), c]) & _MASK32
                            x1 = np.uint64(X[r0 + np.uint64(1), c]) & _MASK32
                            x2 = np.uint64(X[r0 + np.uint64(2), c]) & _MASK32
                            x3 = np.uint64(X[r0 + np.uint64(3), c]) & _MASK32
                            x4 = np.uint64(X[r0 + np.uint64(4), c]) & _MASK32
                            x5 = np.uint64(X[r0 + np.uint64(5), c]) & _MASK32
                            x6 = np.uint64(X[r0 + np.uint64(6), c]) & _MASK32
                            x7 = np.uint64(X[r0 + np.uint64(7), c]) & _MASK32
                            acc0[t] += (a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                                        + a4 * x4 + a5 * x5 + a6 * x6 + a7 * x7)
                            acc1[t] += (b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3
                                        + b4 * x4 + b5 * x5 + b6 * x6 + b7 * x7)
                        pending += 8
                        r += 8
                    elif k - r >= 4 and pending + 4 <= terms:
                        a0 = np.uint64(C[i, r + 0])
                        a1 = np.uint64(C[i, r + 1])
                        a2 = np.uint64(C[i, r + 2])
                        a3 = np.uint64(C[i, r + 3])
                        b0 = np.uint64(C[i1, r + 0])
                        b1 = np.uint64(C[i1, r + 1])
                        b2 = np.uint64(C[i1, r + 2])
                        b3 = np.uint64(C[i1, r + 3])
                        r0 = np.uint64(r)
                        for t in range(w):
                            c = ulo + np.uint64(t)
                            x0 = np.uint64(X[r0 + np.uint64(0), c]) & _MASK32
                            x1 = np.uint64(X[r0 + np.uint64(1), c]) & _MASK32
                            x2 = np.uint64(X[r0 + np.uint64(2), c]) & _MASK32
                            x3 = np.uint64(X[r0 + np.uint64(3), c]) & _MASK32
                            acc0[t] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                            acc1[t] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3
                        pending += 4
                        r += 4
                    elif pending + 1 <= terms:
                        a0 = np.uint64(C[i, r])
                        b0 = np.uint64(C[i1, r])
                        r0 = np.uint64(r)
                        for t in range(w):
                            x0 = np.uint64(X[r0, ulo + np.uint64(t)]) & _MASK32
                            acc0[t] += a0 * x0
                            acc1[t] += b0 * x0
                        pending += 1
                        r += 1
                    else:
                        for t in range(w):
                            acc0[t] = np.uint64(_mod(acc0[t], p, pinv))
                            acc1[t] = np.uint64(_mod(acc1[t], p, pinv))
                        pending = 1
                ui = np.uint64(i)
                for t in range(w):
                    out[ui, ulo + np.uint64(t)] = _mod(acc0[t], p, pinv)
                if i1 > i:
                    ui = np.uint64(i1)
                    for t in range(w):
                        out[ui, ulo + np.uint64(t)] = _mod(acc1[t], p, pinv)


def _combine_u32(C, X, p, bound_c):
    out = np.empty((C.shape[0], X.shape[1]), dtype=np.int64)
    nparts = max(1, min(4 * threads.get_num_threads(), -(-X.shape[1] // _CHUNK)))
    _run(_combine_kernel, C, X, np.int64(p), 1.0 / p, np.int64(_terms(p, bound_c)),
         np.int64(nparts), out, work=out.size)
    return out


def combine(C, X, p):
    n, k = C.shape
    L = X.shape[1]
    if n == 0 or L == 0 or k == 0:
        return np.zeros((n, L), dtype=np.int64)
    X = _stream_operand(X)
    if _direct(p):
        return _combine_u32(np.ascontiguousarray(C, dtype=np.uint32), X, p, p - 1)
    lo, hi = _split_halves(C)
    return _combine_halves(_combine_u32(np.ascontiguousarray(lo), X, p, _HALF_MASK),
                           _combine_u32(np.ascontiguousarray(hi), X, p, _HALF_MASK), p)


# -- quantisation (seed 004 eqs. 3-7) ----------------------------------------------------------

def _parts(size):
    return max(1, min(4 * threads.get_num_threads(), -(-size // 65536)))


@njit(cache=True, parallel=True)
def _quantize_kernel(x, bits, absmask, scale, p, nparts, out, partial_max):
    """out = phi(Round(scale x)) (eqs. 3-5); partial_max[part] = max of |x|'s bit patterns.

    For non-negative floats the bit pattern orders like the value and every NaN pattern lies
    above infinity's, so one integer max gives max |x| and flags NaN in the same pass.
    """
    size = x.shape[0]
    per = (size + nparts - 1) // nparts
    for part in prange(nparts):
        lo = part * per
        hi = min(size, lo + per)
        xs = x[lo:hi]  # zero-based slices: see _tile
        bs = bits[lo:hi]
        os = out[lo:hi]
        m = absmask ^ absmask  # zero of the bit-pattern type
        for i in range(hi - lo):
            m = max(m, bs[i] & absmask)
            v = np.float64(xs[i]) * scale
            f = np.floor(v)
            q = np.int64(f) + (1 if v - f >= 0.5 else 0)  # eq. (3): ties go up
            os[i] = q + p if q < 0 else q
        partial_max[part] = m


@njit(cache=True, inline="always")
def _uniform(key, j):
    """u_j of :func:`pyprivml.backends.numpy_backend.uniforms` (SplitMix64 at counter j + 1)."""
    z = key + (j + np.uint64(1)) * GOLDEN_GAMMA
    z ^= z >> np.uint64(30)
    z *= MIX1
    z ^= z >> np.uint64(27)
    z *= MIX2
    z ^= z >> np.uint64(31)
    return np.float64(z >> np.uint64(11)) * 2.0**-53


@njit(cache=True, parallel=True)
def _quantize_stochastic_kernel(x, bits, absmask, scale, p, key, copies, nparts, out, partial_max):
    """out[i * copies + c] = phi(Round_stoc(scale x_i)) with u from the flat output index (eq. 6)."""
    size = x.shape[0]
    per = (size + nparts - 1) // nparts
    for part in prange(nparts):
        m = absmask ^ absmask  # zero of the bit-pattern type
        lo = part * per
        hi = min(size, lo + per)
        if copies == 1:
            xs = x[lo:hi]  # zero-based slices: see _tile
            bs = bits[lo:hi]
            os = out[lo:hi]
            for i in range(hi - lo):
                m = max(m, bs[i] & absmask)
                v = np.float64(xs[i]) * scale
                f = np.floor(v)
                q = np.int64(f) + (1 if _uniform(key, np.uint64(lo + i)) < v - f else 0)
                os[i] = q + p if q < 0 else q
        else:
            for i in range(lo, hi):
                m = max(m, bits[i] & absmask)
                v = np.float64(x[i]) * scale
                f = np.floor(v)
                frac = v - f
                fi = np.int64(f)
                for c in range(copies):
                    j = i * copies + c
                    q = fi + (1 if _uniform(key, np.uint64(j)) < frac else 0)
                    out[j] = q + p if q < 0 else q
        partial_max[part] = m


_FLOAT_BITS = {np.dtype(np.float64): (np.uint64, 0x7FFFFFFFFFFFFFFF),
               np.dtype(np.float32): (np.uint32, 0x7FFFFFFF)}


def _float_input(X):
    """A flat C-contiguous float32/float64 array, its bit-pattern view and the |.| mask."""
    X = np.asarray(X)
    if X.dtype not in _FLOAT_BITS:
        X = X.astype(np.float64)
    flat = np.ascontiguousarray(X).reshape(-1)
    utype, mask = _FLOAT_BITS[flat.dtype]
    return flat, flat.view(utype), utype(mask)


def _max_abs(partial, dtype, scale):
    if partial.size == 0:
        return 0.0
    # |x| max as a float; scale is a power of two, so max |scale x| = scale max |x| exactly.
    return float(np.array([partial.max()], dtype=partial.dtype).view(dtype)[0]) * scale


def quantize(X, scale, p):
    shape = np.shape(X)
    flat, bits, mask = _float_input(X)
    out = np.empty(flat.size, dtype=np.int64)
    nparts = _parts(flat.size)
    partial = np.zeros(nparts if flat.size else 0, dtype=bits.dtype)
    if flat.size:
        _run(_quantize_kernel, flat, bits, mask, float(scale), np.int64(p), np.int64(nparts), out,
             partial, work=flat.size)
    return out.reshape(shape), _max_abs(partial, flat.dtype, scale)


def quantize_stochastic(w, scale, p, key, copies):
    shape = np.shape(w)
    flat, bits, mask = _float_input(w)
    out = np.empty(flat.size * copies, dtype=np.int64)
    nparts = _parts(flat.size * copies)
    partial = np.zeros(nparts if flat.size else 0, dtype=bits.dtype)
    if flat.size:
        _run(_quantize_stochastic_kernel, flat, bits, mask, float(scale), np.int64(p),
             np.uint64(key), np.int64(copies), np.int64(nparts), out, partial,
             work=out.size)
    return out.reshape(shape + (copies,)), _max_abs(partial, flat.dtype, scale)


# -- entry-wise add, sub, mul mod p -----------------------------------------------------------
#
# Operands are int64 in [0, p): a + b < 2**33 and a - b > -2**32 need one conditional correction
# by p, and a b <= (p - 1)**2 < 2**64 is reduced by _mod (vectorisable, unlike a 64-bit `%`).
# An operand of one element (an array and a constant) is read once, not broadcast into a copy.

@njit(cache=True, inline="always")
def _add1(x, y, p, pinv):
    s = x + y
    return s - p if s >= p else s


@njit(cache=True, inline="always")
def _sub1(x, y, p, pinv):
    d = x - y
    return d + p if d < 0 else d


@njit(cache=True, inline="always")
def _mul1(x, y, p, pinv):
    return _mod(np.uint64(x) * np.uint64(y), p, pinv)


@njit(cache=True, parallel=True)
def _add_kernel(a, b, p, pinv, nparts, out):
    """out = (a + b) mod p over flat int64 arrays; a or b may hold one element, repeated."""
    size = out.shape[0]
    per = (size + nparts - 1) // nparts
    for part in prange(nparts):
        lo = part * per
        hi = min(size, lo + per)
        os = out[lo:hi]  # zero-based slices: see _tile
        if a.shape[0] == 1:
            x = a[0]
            bs = b[lo:hi]
            for i in range(hi - lo):
                os[i] = _add1(x, bs[i], p, pinv)
        elif b.shape[0] == 1:
            y = b[0]
            as_ = a[lo:hi]
            for i in range(hi - lo):
                os[i] = _add1(as_[i], y, p, pinv)
        else:
            as_ = a[lo:hi]
            bs = b[lo:hi]
            for i in range(hi - lo):
                os[i] = _add1(as_[i], bs[i], p, pinv)


@njit(cache=True, parallel=True)
def _sub_kernel(a, b, p, pinv, nparts, out):
    """out = (a - b) mod p, as :func:`_add_kernel`."""
    size = out.shape[0]
    per = (size + nparts - 1) // nparts
    for part in prange(nparts):
        lo = part * per
        hi = min(size, lo + per)
        os = out[lo:hi]
        if a.shape[0] == 1:
            x = a[0]
            bs = b[lo:hi]
            for i in range(hi - lo):
                os[i] = _sub1(x, bs[i], p, pinv)
        elif b.shape[0] == 1:
            y = b[0]
            as_ = a[lo:hi]
            for i in range(hi - lo):
                os[i] = _sub1(as_[i], y, p, pinv)
        else:
            as_ = a[lo:hi]
            bs = b[lo:hi]
            for i in range(hi - lo):
                os[i] = _sub1(as_[i], bs[i], p, pinv)


@njit(cache=True, parallel=True)
def _mul_kernel(a, b, p, pinv, nparts, out):
    """out = (a * b) mod p, as :func:`_add_kernel`; exact for every p < 2**32."""
    size = out.shape[0]
    per = (size + nparts - 1) // nparts
    for part in prange(nparts):
        lo = part * per
        hi = min(size, lo + per)
        os = out[lo:hi]
        if a.shape[0] == 1:
            x = a[0]
            bs = b[lo:hi]
            for i in range(hi - lo):
                os[i] = _mul1(x, bs[i], p, pinv)
        elif b.shape[0] == 1:
            y = b[0]
            as_ = a[lo:hi]
            for i in range(hi - lo):
                os[i] = _mul1(as_[i], y, p, pinv)
        else:
            as_ = a[lo:hi]
            bs = b[lo:hi]
            for i in range(hi - lo):
                os[i] = _mul1(as_[i], bs[i], p, pinv)


def _flat_operand(x, shape):
    """`x` as a flat C-contiguous int64 operand for a result of `shape`: one element stays one
    element (read once by the kernel), any other operand is broadcast to `shape`; int64 input that
    already has the result's shape and layout is used without a copy (one compiled specialisation)."""
    if x.size == 1:
        return np.ascontiguousarray(x, dtype=np.int64).reshape(1)
    return np.ascontiguousarray(np.broadcast_to(x, shape), dtype=np.int64).reshape(-1)


def _entrywise(kernel, a, b, p):
    a, b = np.asarray(a), np.asarray(b)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a64, b64 = _flat_operand(a, shape), _flat_operand(b, shape)
    out = np.empty(math.prod(shape), dtype=np.int64)
    if out.size:
        _run(kernel, a64, b64, np.int64(p), 1.0 / p, np.int64(_parts(out.size)), out,
             work=out.size)
    return out.reshape(shape)


def add(a, b, p):
    return _entrywise(_add_kernel, a, b, p)


def sub(a, b, p):
    return _entrywise(_sub_kernel, a, b, p)


def mul(a, b, p):
    return _entrywise(_mul_kernel, a, b, p)
