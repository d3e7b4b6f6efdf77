"""The CuPy backend: the primitive set on the GPU, exact, equal bit for bit to the NumPy reference.

Field elements are converted once to contiguous uint32 on the device; every product is a
32 x 32 -> 64-bit multiply (``mul.wide.u32``) summed in a uint64 register and reduced modulo p
whenever the next product could wrap (delayed reduction, DESIGN.md), so results are exact for
every shape and every p < 2**32. The CUDA C kernels are short and kept here as strings (compiled
by NVRTC on first use and cached by CuPy):

* ``matmul``: 16 x 16 output tiles, both operands staged through shared memory;
* ``matvec``: one warp per row, lanes striding the row, partial sums combined by shuffles;
* ``combine`` (and ``matvec_t``, a one-row combine): one thread per output entry, the long rows of
  X read coalesced;
* ``add``, ``sub``, ``mul``: elementwise kernels over the broadcast operands, in uint64;
* quantisation: elementwise kernels computing exactly the float64 operations of the reference
  (``__dmul_rn``/``__dsub_rn`` keep the compiler from fusing them into an FMA), with the same
  SplitMix64 counter stream indexed by the output's flat index.

Importing this module raises ImportError when CuPy is missing or no CUDA device is present (the
backend registry relies on that).
"""

from __future__ import annotations

import numpy as np

try:
    import cupy as cp
except ImportError as exc:
    raise ImportError("the CuPy backend needs CuPy (pip install cupy-cuda12x) and a CUDA GPU") from exc

try:
    _devices = cp.cuda.runtime.getDeviceCount()
except Exception as exc:  # CUDARuntimeError when the driver or device is missing
    raise ImportError(f"the CuPy backend needs a CUDA device: {exc}") from exc
if _devices < 1:
    raise ImportError("the CuPy backend needs a CUDA device; none is present")

NAME = "cupy"

_TILE = 16
_MAX_GRID_Y = 65535
_THREADS = 256

_SOURCE = r"""
typedef unsigned int u32;
typedef unsigned long long u64;

/* C (n x m) = A (n x k) B (k x m) mod p. `block` products fit on top of a residue < p. */
extern "C" __global__ void ppml_matmul(const u32* A, const u32* B, long long* C,
                                       long long n, long long m, long long k,
                                       u64 p, u64 block)
{
    __shared__ u32 As[16][16];
    __shared__ u32 Bs[16][16];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const long long row = (long long)blockIdx.y * 16 + ty;
    const long long col = (long long)blockIdx.x * 16 + tx;
    u64 acc = 0, since = 0;
    for (long long t0 = 0; t0 < k; t0 += 16) {
        As[ty][tx] = (row < n && t0 + tx < k) ? A[row * k + t0 + tx] : 0u;
        Bs[ty][tx] = (t0 + ty < k && col < m) ? B[(t0 + ty) * m + col] : 0u;
        __syncthreads();
        const int len = (k - t0 < 16) ? (int)(k - t0) : 16;
        for (int t = 0; t < len; ++t) {
            if (since == block) { acc %= p; since = 0; }
            acc += (u64)As[ty][t] * Bs[t][tx];
            ++since;
        }
        __syncthreads();
    }
    if (row < n && col < m)
        C[row * m + col] = (long long)(acc % p);
}

/* y = A x mod p: one warp per row of A (n x k). */
extern "C" __global__ void ppml_matvec(const u32* A, const u32* x, long long* y,
                                       long long n, long long k, u64 p, u64 block)
{
    const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32;
    if (row >= n)
        return;  /* the whole warp leaves together: row is the same for its 32 lanes */
    const u32* a = A + row * k;
    u64 acc = 0, since = 0;
    for (long long t = lane; t < k; t += 32) {
        if (since == block) { acc %= p; since = 0; }
        acc += (u64)a[t] * x[t];
        ++since;
    }
    acc %= p;  /* 32 residues sum below 2**37 */
    for (int offset = 16; offset > 0; offset >>= 1)
        acc += __shfl_down_sync(0xffffffffu, acc, offset);
    if (lane == 0)
        y[row] = (long long)(acc % p);
}

/* out (n x L) = C (n x k) X (k x L) mod p: one thread per output entry; blockIdx.y is the row. */
extern "C" __global__ void ppml_combine(const u32* C, const u32* X, long long* out,
                                        long long k, long long L, u64 p, u64 block)
{
    const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long i = blockIdx.y;
    if (j >= L)
        return;
    const u32* c = C + i * k;
    u64 acc = 0, since = 0;
    for (long long t = 0; t < k; ++t) {
        if (since == block) { acc %= p; since = 0; }
        acc += (u64)c[t] * X[t * L + j];
        ++since;
    }
    out[i * L + j] = (long long)(acc % p);
}
"""

_module = None


def _kernel(name):
    global _module
    if _module is None:
        _module = cp.RawModule(code=_SOURCE)
    return _module.get_function(name)


# phi(Round(x)) of eqs. (3)-(5); (fabs(r) <= 2**62) keeps the conversion defined for inputs the
# public layer rejects anyway (it checks the returned maximum).
_EMBED = r"""
    const long long v = (fabs(r) <= 4611686018427387904.0) ? (long long)r : 0;
    y = v < 0 ? v + p : v;
"""

_quantize_kernel = cp.ElementwiseKernel(
    "float64 w, float64 scale, int64 p", "int64 y",
    r"""
    const double x = __dmul_rn(w, scale);
    const double f = floor(x);
    const double r = f + (__dsub_rn(x, f) >= 0.5 ? 1.0 : 0.0);
    """ + _EMBED,
    "pyprivml_quantize",
)

_quantize_stochastic_kernel = cp.ElementwiseKernel(
    "raw float64 w, float64 scale, int64 p, uint64 key, int64 copies", "int64 y",
    r"""
    unsigned long long z = key + ((unsigned long long)i + 1ull) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double u = __dmul_rn((double)(z >> 11), 1.0 / 9007199254740992.0);  /* 2**-53 */
    const double x = __dmul_rn(w[i / copies], scale);
    const double f = floor(x);
    const double r = f + (u < __dsub_rn(x, f) ? 1.0 : 0.0);
    """ + _EMBED,
    "pyprivml_quantize_stochastic",
)


def _block(p: int) -> np.uint64:
    """Products of two elements that can be added to a residue (< p) without passing 2**64."""
    pm1 = int(p) - 1  # >= 1: the kernels take 2 <= p < 2**32
    return np.uint64(min(((1 << 64) - 1 - pm1) // (pm1 * pm1), 1 << 63))


def _u32(a):
    # Entries are in [0, p) with p < 2**32 (checked by the public layer), so the cast is exact.
    return cp.ascontiguousarray(cp.asarray(a), dtype=cp.uint32)


def asarray(x):
    return cp.asarray(x)


def matmul(A, B, p):
    A32, B32 = _u32(A), _u32(B)
    n, k = A32.shape
    m = B32.shape[1]
    out = cp.zeros((n, m), dtype=cp.int64)
    if n == 0 or m == 0 or k == 0:
        return out
    rows = _MAX_GRID_Y * _TILE  # grid.y is limited: launch tall problems in row slabs
    for r0 in range(0, n, rows):
        A_slab, out_slab = A32[r0:r0 + rows], out[r0:r0 + rows]
        nr = A_slab.shape[0]
        grid = ((m + _TILE - 1) // _TILE, (nr + _TILE - 1) // _TILE)
        _kernel("ppml_matmul")(grid, (_TILE, _TILE), (
            A_slab, B32, out_slab, np.int64(nr), np.int64(m), np.int64(k),
            np.uint64(p), _block(p)))
    return out


def matvec(A, x, p):
    A32, x32 = _u32(A), _u32(x)
    n, k = A32.shape
    out = cp.zeros(n, dtype=cp.int64)
    if n == 0 or k == 0:
        return out
    warps = _THREADS // 32
    _kernel("ppml_matvec")(((n + warps - 1) // warps,), (_THREADS,), (
        A32, x32, out, np.int64(n), np.int64(k), np.uint64(p), _block(p)))
    return out


def combine(C, X, p):
    C32, X32 = _u32(C), _u32(X)
    n, k = C32.shape
    L = X32.shape[1]
    out = cp.zeros((n, L), dtype=cp.int64)
    if n == 0 or L == 0 or k == 0:
        return out
    for r0 in range(0, n, _MAX_GRID_Y):  # grid.y is the output row
        C_slab, out_slab = C32[r0:r0 + _MAX_GRID_Y], out[r0:r0 + _MAX_GRID_Y]
        grid = ((L + _THREADS - 1) // _THREADS, C_slab.shape[0])
        _kernel("ppml_combine")(grid, (_THREADS,), (
            C_slab, X32, out_slab, np.int64(k), np.int64(L), np.uint64(p), _block(p)))
    return out


def matvec_t(A, x, p):
    # A^T x = (x^T A)^T: a one-row combination of A's rows, read coalesced.
    return combine(_u32(x).reshape(1, -1), A, p).reshape(-1)


def _max_abs(x) -> float:
    if x.size == 0:
        return 0.0
    return float(cp.max(cp.abs(x)))  # NaN propagates, as in np.max


def quantize(X, scale, p):
    w = cp.ascontiguousarray(cp.asarray(X), dtype=cp.float64)
    out = _quantize_kernel(w, np.float64(scale), np.int64(p))
    return out, _max_abs(w * np.float64(scale))


def quantize_stochastic(w, scale, p, key, copies):
    w64 = cp.ascontiguousarray(cp.asarray(w), dtype=cp.float64)
    out = cp.empty(w64.shape + (copies,), dtype=cp.int64)
    if out.size:
        _quantize_stochastic_kernel(w64.reshape(-1), np.float64(scale), np.int64(p),
                                    np.uint64(key), np.int64(copies), out)
    return out, _max_abs(w64 * np.float64(scale))


# -- entry-wise add, sub, mul: one pass, broadcasting done by CuPy ------------------------------
# Any integer dtypes T, U with entries in [0, p) are widened to u64, which holds a + b < 2**33,
# a + p - b in (0, 2p) and a * b <= (p - 1)**2 < 2**64 exactly; every result lands in [0, p).
_ENTRYWISE_PREAMBLE = "typedef unsigned long long u64;"
_ENTRYWISE_BODY = {
    "add": "const u64 s = (u64)a + (u64)b; y = (long long)(s >= p ? s - p : s);",
    "sub": "const u64 x = (u64)a, z = (u64)b; y = (long long)(x >= z ? x - z : x + p - z);",
    "mul": "y = (long long)(((u64)a * (u64)b) % p);",
}
_entrywise_kernels = {
    op: cp.ElementwiseKernel("T a, U b, uint64 p", "int64 y", body, f"pyprivml_entrywise_{op}",
                             preamble=_ENTRYWISE_PREAMBLE)
    for op, body in _ENTRYWISE_BODY.items()
}


def _entrywise(op, a, b, p):
    return _entrywise_kernels[op](cp.asarray(a), cp.asarray(b), np.uint64(p))


def add(a, b, p):
    return _entrywise("add", a, b, p)


def sub(a, b, p):
    return _entrywise("sub", a, b, p)


def mul(a, b, p):
    return _entrywise("mul", a, b, p)
