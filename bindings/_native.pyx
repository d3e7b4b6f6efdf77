# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""pyprivml._native: thin Cython wrappers over the C kernels in kernels/ (GIL released).

Field elements are uint32 arrays with entries in [0, p) and 2 <= p < 2**32; results are int64 in
[0, p). Entries are NOT range-checked here (the public pyprivml functions do that once): an entry
>= p gives a wrong result, never a crash. 2-D arguments may be any view whose rows are contiguous
(a block of a larger matrix, a column slice); everything else is rejected with a ValueError.
Each call releases the GIL, so Python threads (or MPI ranks) run kernels side by side.

>>> import numpy as np
>>> from pyprivml import _native
>>> A = np.array([[1, 2], [3, 4]], dtype=np.uint32)
>>> Bt = np.ascontiguousarray(np.array([[5, 6], [7, 8]], dtype=np.uint32).T)
>>> _native.matmul(A, Bt, 11)
array([[ 8,  0],
       [10,  6]])
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

import numpy as np

cdef extern from "pyprivml_kernels.h" nogil:
    uint64_t ppml_max_delayed_terms(uint32_t p)
    int ppml_dispatch_level()
    int ppml_ifma_route(int enable)
    void ppml_matmul(size_t n, size_t m, size_t k, const uint32_t *A, size_t lda,
                     const uint32_t *Bt, size_t ldb, uint32_t p, int64_t *C, size_t ldc)
    void ppml_matvec(size_t n, size_t k, const uint32_t *A, size_t lda,
                     const uint32_t *x, uint32_t p, int64_t *y)
    void ppml_matvec_t(size_t n, size_t k, const uint32_t *A, size_t lda,
                       const uint32_t *x, uint32_t p, int64_t *y)
    void ppml_combine(size_t n, size_t k, size_t L, const uint32_t *Cf, size_t ldcf,
                      const uint32_t *X, size_t ldx, uint32_t p, int64_t *out, size_t ldo)
    void ppml_add(size_t count, const uint32_t *a, size_t inca, const uint32_t *b, size_t incb,
                  uint32_t p, int64_t *out)
    void ppml_sub(size_t count, const uint32_t *a, size_t inca, const uint32_t *b, size_t incb,
                  uint32_t p, int64_t *out)
    void ppml_mul(size_t count, const uint32_t *a, size_t inca, const uint32_t *b, size_t incb,
                  uint32_t p, int64_t *out)
    double ppml_quantize(size_t count, const double *x, double scale, uint32_t p, int64_t *out)
    double ppml_quantize_stochastic(size_t count, const double *w, double scale, uint32_t p,
                                    uint64_t key, size_t copies, uint64_t first, int64_t *out)
    void ppml_uniforms(uint64_t key, uint64_t start, size_t count, double *u)
    uint64_t ppml_mix64(uint64_t z)
    int PPML_POW_ROUTE_AUTO, PPML_POW_ROUTE_PORTABLE, PPML_POW_ROUTE_SHANI, PPML_POW_ERR_ROUTE
    unsigned int ppml_pow_routes()
    int ppml_pow_resolve_route(int route)
    int ppml_pow_search(const uint8_t *prefix, const uint8_t *target, uint32_t start_nonce,
                        uint64_t count, int route, uint32_t *nonce_out, uint64_t *tried_out,
                        uint8_t *hash_out)
    int ppml_pow_hash(const uint8_t *prefix, uint32_t nonce, int route, uint8_t *hash_out)

ctypedef void (*entrywise_kernel)(size_t, const uint32_t *, size_t, const uint32_t *, size_t,
                                  uint32_t, int64_t *) noexcept nogil

# Stand-in address for empty arrays: kernels never dereference it when a dimension is zero.
cdef uint32_t _no_u32 = 0
cdef int64_t _no_i64 = 0
cdef double _no_f64 = 0.0


cdef uint32_t _modulus(p) except? 0:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
        raise TypeError(f"p must be an integer, got {type(p).__name__}")
    if not 2 <= p < 2**32:
        raise ValueError(f"p = {p} is outside the kernels' range 2 <= p < 2**32")
    return <uint32_t>p


cdef uint64_t _u64(name, value) except? 0:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if not 0 <= value < 2**64:
        raise ValueError(f"{name} = {value} is outside [0, 2**64)")
    return <uint64_t>value


cdef size_t _leading(str name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t s0, Py_ssize_t s1,
                     Py_ssize_t itemsize) except? 0:
    """Row stride in elements of a 2-D view whose rows must be contiguous."""
    if cols > 1 and s1 != itemsize:
        raise ValueError(
            f"{name}: rows must be contiguous (element stride {s1} bytes, itemsize {itemsize}); "
            f"pass np.ascontiguousarray({name})")
    if rows <= 1:
        return <size_t>max(cols, 1)
    if s0 < cols * itemsize or s0 % itemsize:
        raise ValueError(
            f"{name}: row stride {s0} bytes does not hold rows of {cols} elements of {itemsize} "
            f"bytes; pass np.ascontiguousarray({name})")
    return <size_t>(s0 // itemsize)


cdef inline const uint32_t *_u32_ptr(const uint32_t[:, :] a) noexcept:
    return &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else &_no_u32


cdef inline int64_t *_i64_ptr(int64_t[:, :] a) noexcept:
    return &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else &_no_i64


def _shape_error(func, what):
    return ValueError(f"{func}: {what}")


def _result(view):
    """The caller's (or the freshly allocated) ndarray behind an output memoryview."""
    base = view.base
    return base if isinstance(base, np.ndarray) else np.asarray(view)


def dispatch_level():
    """Which build of the dispatched C kernels this CPU runs: 4 (x86-64-v4, AVX-512), 3
    (x86-64-v3, AVX2), 1 (baseline x86-64), 0 (built without run-time dispatch)."""
    return ppml_dispatch_level()


def ifma_route(enable=None):
    """Whether matmul's full 4 x 4 tiles use AVX-512 IFMA (p < 2**26, CPUs that have it).
    ``enable=True`` turns it on where the CPU allows, ``False`` off (the portable tiles); None
    only asks. Returns the state after the call."""
    return bool(ppml_ifma_route(-1 if enable is None else int(bool(enable))))


def max_delayed_terms(p):
    """floor((2**64 - 1) / (p - 1)**2): products summed in uint64 before one reduction."""
    return ppml_max_delayed_terms(_modulus(p))


def matmul(const uint32_t[:, :] A, const uint32_t[:, :] Bt, p, int64_t[:, :] out=None):
    """A @ Bt.T mod p: A (n, k), Bt = B transposed (m, k), into out (n, m) int64 (allocated when
    None). Returns out."""
    cdef uint32_t q = _modulus(p)
    cdef Py_ssize_t n = A.shape[0], k = A.shape[1], m = Bt.shape[0]
    if Bt.shape[1] != k:
        raise _shape_error("matmul", f"A has shape ({n}, {k}) and Bt (B transposed) has shape "
                           f"({m}, {Bt.shape[1]}); both need {k} columns")
    if out is None:
        out = np.empty((n, m), dtype=np.int64)
    elif out.shape[0] != n or out.shape[1] != m:
        raise _shape_error("matmul", f"out has shape ({out.shape[0]}, {out.shape[1]}), "
                           f"expected ({n}, {m})")
    cdef size_t lda = _leading("A", n, k, A.strides[0], A.strides[1], 4)
    cdef size_t ldb = _leading("Bt", m, k, Bt.strides[0], Bt.strides[1], 4)
    cdef size_t ldc = _leading("out", n, m, out.strides[0], out.strides[1], 8)
    cdef const uint32_t *pa = _u32_ptr(A)
    cdef const uint32_t *pb = _u32_ptr(Bt)
    cdef int64_t *pc = _i64_ptr(out)
    with nogil:
        ppml_matmul(n, m, k, pa, lda, pb, ldb, q, pc, ldc)
    return _result(out)


def matvec(const uint32_t[:, :] A, const uint32_t[::1] x, p, int64_t[::1] out=None):
    """A @ x mod p for A (n, k) and x (k,), into out (n,). Returns out."""
    cdef uint32_t q = _modulus(p)
    cdef Py_ssize_t n = A.shape[0], k = A.shape[1]
    if x.shape[0] != k:
        raise _shape_error("matvec", f"A has shape ({n}, {k}) and x has length {x.shape[0]}")
    if out is None:
        out = np.empty(n, dtype=np.int64)
    elif out.shape[0] != n:
        raise _shape_error("matvec", f"out has length {out.shape[0]}, expected {n}")
    cdef size_t lda = _leading("A", n, k, A.strides[0], A.strides[1], 4)
    cdef const uint32_t *pa = _u32_ptr(A)
    cdef const uint32_t *px = &x[0] if k > 0 else &_no_u32
    cdef int64_t *py = &out[0] if n > 0 else &_no_i64
    with nogil:
        ppml_matvec(n, k, pa, lda, px, q, py)
    return _result(out)


def matvec_t(const uint32_t[:, :] A, const uint32_t[::1] x, p, int64_t[::1] out=None):
    """A.T @ x mod p for A (n, k) and x (n,), into out (k,). Returns out."""
    cdef uint32_t q = _modulus(p)
    cdef Py_ssize_t n = A.shape[0], k = A.shape[1]
    if x.shape[0] != n:
        raise _shape_error("matvec_t", f"A has shape ({n}, {k}) and x has length {x.shape[0]}")
    if out is None:
        out = np.empty(k, dtype=np.int64)
    elif out.shape[0] != k:
        raise _shape_error("matvec_t", f"out has length {out.shape[0]}, expected {k}")
    cdef size_t lda = _leading("A", n, k, A.strides[0], A.strides[1], 4)
    cdef const uint32_t *pa = _u32_ptr(A)
    cdef const uint32_t *px = &x[0] if n > 0 else &_no_u32
    cdef int64_t *py = &out[0] if k > 0 else &_no_i64
    with nogil:
        ppml_matvec_t(n, k, pa, lda, px, q, py)
    return _result(out)


def combine(const uint32_t[:, :] C, const uint32_t[:, :] X, p, int64_t[:, :] out=None):
    """C @ X mod p for a small C (n, k) and long rows X (k, L), into out (n, L). Returns out."""
    cdef uint32_t q = _modulus(p)
    cdef Py_ssize_t n = C.shape[0], k = C.shape[1], L = X.shape[1]
    if X.shape[0] != k:
        raise _shape_error("combine", f"C has shape ({n}, {k}) and X has shape "
                           f"({X.shape[0]}, {L}); X needs {k} rows")
    if out is None:
        out = np.empty((n, L), dtype=np.int64)
    elif out.shape[0] != n or out.shape[1] != L:
        raise _shape_error("combine", f"out has shape ({out.shape[0]}, {out.shape[1]}), "
                           f"expected ({n}, {L})")
    cdef size_t ldc = _leading("C", n, k, C.strides[0], C.strides[1], 4)
    cdef size_t ldx = _leading("X", k, L, X.strides[0], X.strides[1], 4)
    cdef size_t ldo = _leading("out", n, L, out.strides[0], out.strides[1], 8)
    cdef const uint32_t *pc = _u32_ptr(C)
    cdef const uint32_t *px = _u32_ptr(X)
    cdef int64_t *po = _i64_ptr(out)
    with nogil:
        ppml_combine(n, k, L, pc, ldc, px, ldx, q, po, ldo)
    return _result(out)


cdef object _entrywise(str func, entrywise_kernel kernel, const uint32_t[::1] a,
                       const uint32_t[::1] b, p, int64_t[::1] out):
    """out = a op b mod p entry-wise; an operand of length 1 is repeated (increment 0)."""
    cdef uint32_t q = _modulus(p)
    cdef Py_ssize_t na = a.shape[0], nb = b.shape[0]
    cdef Py_ssize_t count = (na if na != 1 else nb) if out is None else out.shape[0]
    if (na != count and na != 1) or (nb != count and nb != 1):
        where = f"out has length {count}, " if out is not None else ""
        raise _shape_error(func, f"a has length {na} and b has length {nb}; {where}each operand "
                           f"needs the length of the result or length 1 (flatten and broadcast "
                           f"first)")
    if out is None:
        out = np.empty(count, dtype=np.int64)
    cdef size_t inca = 0 if na == 1 else 1
    cdef size_t incb = 0 if nb == 1 else 1
    cdef const uint32_t *pa = &a[0] if na > 0 else &_no_u32
    cdef const uint32_t *pb = &b[0] if nb > 0 else &_no_u32
    cdef int64_t *po = &out[0] if count > 0 else &_no_i64
    with nogil:
        kernel(count, pa, inca, pb, incb, q, po)
    return _result(out)


def add(const uint32_t[::1] a, const uint32_t[::1] b, p, int64_t[::1] out=None):
    """(a + b) mod p entry-wise over flat arrays, into out (allocated when None); an operand of
    length 1 is repeated against the other. Returns out."""
    return _entrywise("add", ppml_add, a, b, p, out)


def sub(const uint32_t[::1] a, const uint32_t[::1] b, p, int64_t[::1] out=None):
    """(a - b) mod p entry-wise, as :func:`add`."""
    return _entrywise("sub", ppml_sub, a, b, p, out)


def mul(const uint32_t[::1] a, const uint32_t[::1] b, p, int64_t[::1] out=None):
    """(a * b) mod p entry-wise, as :func:`add`; exact for every p < 2**32 ((p - 1)**2 < 2**64)."""
    return _entrywise("mul", ppml_mul, a, b, p, out)


def quantize(const double[::1] x, double scale, p, int64_t[::1] out=None):
    """phi(Round(scale * x)) (seed 004 eqs. 3-5) into out (same length); returns
    (out, max |scale * x|), the maximum NaN if any scaled entry is NaN (inf if infinite)."""
    cdef uint32_t q = _modulus(p)
    cdef Py_ssize_t count = x.shape[0]
    if out is None:
        out = np.empty(count, dtype=np.int64)
    elif out.shape[0] != count:
        raise _shape_error("quantize", f"out has length {out.shape[0]}, expected {count}")
    cdef const double *px = &x[0] if count > 0 else &_no_f64
    cdef int64_t *po = &out[0] if count > 0 else &_no_i64
    cdef double max_abs
    with nogil:
        max_abs = ppml_quantize(count, px, scale, q, po)
    return _result(out), max_abs


def quantize_stochastic(const double[::1] w, double scale, p, key, Py_ssize_t copies,
                        first=0, int64_t[::1] out=None):
    """`copies` draws of phi(Round_stoc(scale * w)) (eqs. 6-7) into out (len(w) * copies, entry
    i * copies + c), the uniform for that entry being u_j, j = (first + i) * copies + c, of the
    stream with this 64-bit key. Returns (out, max |scale * w|)."""
    cdef uint32_t q = _modulus(p)
    cdef uint64_t k64 = _u64("key", key)
    cdef uint64_t start = _u64("first", first)
    if copies < 1:
        raise ValueError(f"copies must be a positive integer, got {copies}")
    cdef Py_ssize_t count = w.shape[0]
    if out is None:
        out = np.empty(count * copies, dtype=np.int64)
    elif out.shape[0] != count * copies:
        raise _shape_error("quantize_stochastic",
                           f"out has length {out.shape[0]}, expected {count} * {copies}")
    cdef const double *pw = &w[0] if count > 0 else &_no_f64
    cdef int64_t *po = &out[0] if count > 0 else &_no_i64
    cdef double max_abs
    with nogil:
        max_abs = ppml_quantize_stochastic(count, pw, scale, q, k64, copies, start, po)
    return _result(out), max_abs


def uniforms(key, start, Py_ssize_t count):
    """u_j for j = start, ..., start + count - 1: the stream of
    pyprivml.backends.numpy_backend.uniforms, computed in C."""
    cdef uint64_t k64 = _u64("key", key)
    cdef uint64_t s64 = _u64("start", start)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    u = np.empty(count, dtype=np.float64)
    cdef double[::1] view = u
    cdef double *pu = &view[0] if count > 0 else &_no_f64
    with nogil:
        ppml_uniforms(k64, s64, count, pu)
    return u


def mix64(z):
    """The SplitMix64 finaliser of a 64-bit integer."""
    return ppml_mix64(_u64("z", z))


# -- GradientCoin proof of work (kernels/pow_nonce.c) ---------------------------------------------

_POW_ROUTES = {"auto": PPML_POW_ROUTE_AUTO, "portable": PPML_POW_ROUTE_PORTABLE,
               "sha-ni": PPML_POW_ROUTE_SHANI}
_POW_NAMES = {PPML_POW_ROUTE_PORTABLE: "portable", PPML_POW_ROUTE_SHANI: "sha-ni"}
POW_PREFIX_SIZE = 108
POW_TARGET_SIZE = 32


def pow_routes():
    """The SHA-256 routes of the nonce search this CPU can run, as a tuple of names: "portable"
    (always) and "sha-ni" (x86-64 with the SHA extensions, detected by CPUID)."""
    cdef unsigned int mask = ppml_pow_routes()
    return tuple(name for code, name in sorted(_POW_NAMES.items()) if mask & (1u << code))


cdef int _pow_route(route) except -2:
    code = _POW_ROUTES.get(route) if isinstance(route, str) else None
    if code is None:
        raise ValueError(f"route must be one of {sorted(_POW_ROUTES)}, got {route!r}")
    cdef int chosen = ppml_pow_resolve_route(code)
    if chosen == PPML_POW_ERR_ROUTE:
        raise ValueError(f"route {route!r} is not available on this CPU (available: "
                         f"{', '.join(pow_routes())})")
    return chosen


def pow_resolve_route(route="auto"):
    """The route name ``route`` runs as here ("auto" is "sha-ni" where the CPU has it, else
    "portable"); ValueError for an unknown route or one this CPU lacks."""
    return _POW_NAMES[_pow_route(route)]


cdef bytes _pow_bytes(str name, value, Py_ssize_t size):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be {size} bytes, got {type(value).__name__}")
    value = bytes(value)
    if len(value) != size:
        raise ValueError(f"{name} must be {size} bytes, got {len(value)}")
    return value


def pow_search(prefix, target, start_nonce, count, route="auto"):
    """Try nonces ``start_nonce, start_nonce + 1, ...`` (at most ``count``, never past 2**32 - 1)
    for sha256d(prefix + nonce.to_bytes(4, "little")) read little-endian <= the target, with
    ``prefix`` the 108 header bytes before the nonce and ``target`` 32 little-endian bytes.
    Returns ``(nonce, tried, hash)`` for the first nonce that succeeds (``hash`` its 32-byte
    sha256d), or ``(None, tried, None)``. The GIL is released during the search."""
    cdef bytes p = _pow_bytes("prefix", prefix, POW_PREFIX_SIZE)
    cdef bytes t = _pow_bytes("target", target, POW_TARGET_SIZE)
    cdef uint32_t start = <uint32_t>_u64("start_nonce", start_nonce)
    if start_nonce >= 2**32:
        raise ValueError(f"start_nonce = {start_nonce} is outside [0, 2**32)")
    cdef uint64_t n = _u64("count", count)
    cdef int code = _pow_route(route)
    cdef const uint8_t *pp = p
    cdef const uint8_t *pt = t
    cdef uint32_t nonce = 0
    cdef uint64_t tried = 0
    cdef uint8_t digest[32]
    cdef int status
    with nogil:
        status = ppml_pow_search(pp, pt, start, n, code, &nonce, &tried, digest)
    if status < 0:
        raise RuntimeError(f"ppml_pow_search failed with status {status}")
    if status == 0:
        return None, tried, None
    return nonce, tried, bytes(digest[:32])


def pow_hash(prefix, nonce, route="auto"):
    """sha256d(prefix + nonce.to_bytes(4, "little")) by the given route (32 bytes, hashlib's
    order), through the search's own code."""
    cdef bytes p = _pow_bytes("prefix", prefix, POW_PREFIX_SIZE)
    if isinstance(nonce, bool) or not isinstance(nonce, (int, np.integer)) or not 0 <= nonce < 2**32:
        raise ValueError(f"nonce must be an integer in [0, 2**32), got {nonce!r}")
    cdef uint32_t n = <uint32_t>nonce
    cdef int code = _pow_route(route)
    cdef const uint8_t *pp = p
    cdef uint8_t digest[32]
    cdef int status
    with nogil:
        status = ppml_pow_hash(pp, n, code, digest)
    if status < 0:
        raise RuntimeError(f"ppml_pow_hash failed with status {status}")
    return bytes(digest[:32])
