"""The Cython backend: the C kernels of ``kernels/`` through the extension ``pyprivml._native``.

Each primitive converts its operands once to contiguous uint32 (B transposed for ``matmul``, so
both operands of every inner product are contiguous; entries are already known to lie in [0, p)),
allocates the int64 output and calls the C kernel, which accumulates in uint64 with delayed
reduction (DESIGN.md) and returns results in [0, p) equal bit for bit to the NumPy reference.
The entry-wise ``add``, ``sub`` and ``mul`` broadcast their operands here (NumPy's rules) and
call flat kernels; an operand of one element is passed as it is and repeated by the kernel.

The kernels release the GIL, so large calls are split into independent output blocks run on a
small thread pool (:func:`pyprivml.backends.threads.get_num_threads` threads;
``PYPRIVML_NUM_THREADS=1`` under ``mpiexec`` with a rank per core). Stochastic rounding splits its counter stream by index,
so the bits do not depend on the thread count.

Importing this module raises ImportError when the extension has not been built
(``pip install -e .`` or ``make build``); the backend registry relies on that.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import threads

try:
    from .. import _native
except ImportError as exc:  # the registry reports this message
    raise ImportError(
        "the Cython backend needs the compiled extension pyprivml._native; build it with "
        "`make build` or `python -m pip install --no-build-isolation -e .`"
    ) from exc

NAME = "cython"

#: Below this many multiply-adds (or values, for quantisation) one thread beats dispatching.
_PARALLEL_WORK = 1 << 22
_PARALLEL_VALUES = 1 << 18
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _num_threads() -> int:
    try:
        return threads.get_num_threads()
    except ImportError:  # numba absent: the same default without its cap
        return threads.default_num_threads()


def _parts(work: int, threshold: int) -> int:
    return 1 if work < threshold else max(1, _num_threads())


def _run(tasks) -> list:
    """Run the zero-argument callables in `tasks`, in parallel when there are several."""
    global _pool, _pool_size
    if len(tasks) == 1:
        return [tasks[0]()]
    if _pool is None or _pool_size < len(tasks):
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool_size = len(tasks)
        _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="pyprivml-cython")
    return [f.result() for f in [_pool.submit(task) for task in tasks]]


def _bounds(total: int, parts: int, align: int) -> list[tuple[int, int]]:
    """Split range(total) into at most `parts` pieces whose starts are multiples of `align`."""
    step = max(align, math.ceil(total / max(parts, 1) / align) * align)
    return [(a, min(a + step, total)) for a in range(0, total, step)] or [(0, 0)]


def _u32(a):
    # Entries are in [0, p) with p < 2**32 (checked by the public layer), so the cast is exact.
    return np.ascontiguousarray(a, dtype=np.uint32)


def asarray(x):
    return np.asarray(x)


def matmul(A, B, p):
    A32 = _u32(A)
    Bt = _u32(np.asarray(B).T)  # B transposed once: rows of Bt are B's columns
    n, k = A32.shape
    m = Bt.shape[0]
    out = np.empty((n, m), dtype=np.int64)
    parts = _parts(n * m * k, _PARALLEL_WORK)
    if n >= m:  # split the larger output dimension, in whole 4 x 4 tiles
        tasks = [lambda a=a, b=b: _native.matmul(A32[a:b], Bt, p, out[a:b])
                 for a, b in _bounds(n, parts, 4)]
    else:
        tasks = [lambda a=a, b=b: _native.matmul(A32, Bt[a:b], p, out[:, a:b])
                 for a, b in _bounds(m, parts, 4)]
    _run(tasks)
    return out


def matvec(A, x, p):
    A32, x32 = _u32(A), _u32(x)
    n, k = A32.shape
    out = np.empty(n, dtype=np.int64)
    tasks = [lambda a=a, b=b: _native.matvec(A32[a:b], x32, p, out[a:b])
             for a, b in _bounds(n, _parts(n * k, _PARALLEL_WORK), 4)]
    _run(tasks)
    return out


def matvec_t(A, x, p):
    A32, x32 = _u32(A), _u32(x)
    n, k = A32.shape
    out = np.empty(k, dtype=np.int64)
    # Column blocks of A are views with contiguous rows: no copy per thread.
    tasks = [lambda a=a, b=b: _native.matvec_t(A32[:, a:b], x32, p, out[a:b])
             for a, b in _bounds(k, _parts(n * k, _PARALLEL_WORK), 64)]
    _run(tasks)
    return out


def combine(C, X, p):
    C32, X32 = _u32(C), _u32(X)
    n, k = C32.shape
    L = X32.shape[1]
    out = np.empty((n, L), dtype=np.int64)
    tasks = [lambda a=a, b=b: _native.combine(C32, X32[:, a:b], p, out[:, a:b])
             for a, b in _bounds(L, _parts(n * k * L, _PARALLEL_WORK), 64)]
    _run(tasks)
    return out


def _max_abs(values) -> float:
    """np.max over per-block maxima: NaN if any block saw NaN."""
    return float(np.max(values)) if len(values) else 0.0


def quantize(X, scale, p):
    shape = np.shape(X)
    x = np.ascontiguousarray(X, dtype=np.float64).reshape(-1)
    out = np.empty(x.size, dtype=np.int64)
    tasks = [lambda a=a, b=b: _native.quantize(x[a:b], scale, p, out[a:b])[1]
             for a, b in _bounds(x.size, _parts(x.size, _PARALLEL_VALUES), 64)]
    return out.reshape(shape), _max_abs(_run(tasks))


def quantize_stochastic(w, scale, p, key, copies):
    shape = np.shape(w)
    x = np.ascontiguousarray(w, dtype=np.float64).reshape(-1)
    out = np.empty(x.size * copies, dtype=np.int64)
    # Block [a, b) draws the stream entries a * copies ... b * copies - 1, as one call would.
    tasks = [lambda a=a, b=b: _native.quantize_stochastic(
                 x[a:b], scale, p, key, copies, a, out[a * copies:b * copies])[1]
             for a, b in _bounds(x.size, _parts(x.size * copies, _PARALLEL_VALUES), 64)]
    return out.reshape(shape + (copies,)), _max_abs(_run(tasks))


# -- entry-wise add, sub, mul --------------------------------------------------------------------

def _flat_operand(x, shape):
    """`x` as the flat contiguous uint32 operand of the kernels for a result of `shape`: one
    element stays one element (the kernel repeats it, so an array times a constant copies
    nothing), any other operand is broadcast to `shape` and copied once."""
    if x.size == 1:
        return _u32(x).reshape(1)
    return _u32(np.broadcast_to(x, shape)).reshape(-1)


def _entrywise(kernel, a, b, p):
    a, b = np.asarray(a), np.asarray(b)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a32, b32 = _flat_operand(a, shape), _flat_operand(b, shape)
    out = np.empty(math.prod(shape), dtype=np.int64)

    def part(lo, hi):
        return kernel(a32 if a32.size == 1 else a32[lo:hi], b32 if b32.size == 1 else b32[lo:hi],
                      p, out[lo:hi])

    _run([lambda lo=lo, hi=hi: part(lo, hi)
          for lo, hi in _bounds(out.size, _parts(out.size, _PARALLEL_VALUES), 64)])
    return out.reshape(shape)


def add(a, b, p):
    return _entrywise(_native.add, a, b, p)


def sub(a, b, p):
    return _entrywise(_native.sub, a, b, p)


def mul(a, b, p):
    return _entrywise(_native.mul, a, b, p)
