"""Backend registry: one module per backend, all implementing the same small primitive set.

Every backend module defines these functions over arrays that the public layer has already
validated (integer entries in [0, p), shapes agreeing or broadcasting); each returns int64 arrays
in [0, p):

``matmul(A, B, p)``
    A (n, k) times B (k, m) modulo p, for any n, k, m, strides and integer dtype.
``matvec(A, x, p)`` and ``matvec_t(A, x, p)``
    A x and A^T x modulo p.
``combine(C, X, p)``
    The encoding-shaped product: a small coefficient matrix C (n, k) times a few very long
    rows X (k, L). Mathematically ``matmul`` again; a separate entry so that backends can stream.
``add(a, b, p)``, ``sub(a, b, p)`` and ``mul(a, b, p)``
    (a + b), (a - b) and (a * b) modulo p entry-wise, the two operands broadcasting like NumPy's
    (either may be 0-d). Exact for every p < 2**32: a + b < 2**33 and a * b <= (p - 1)**2 < 2**64
    fit in uint64. For protocol code that combines shares, masks or powers entry by entry.
``quantize(X, scale, p)`` -> (out, max_abs)
    phi(Round(scale * X)) (seed 004 eqs. 3-5) and max |scale * X| (NaN if any entry is not finite).
``quantize_stochastic(w, scale, p, key, copies)`` -> (out, max_abs)
    ``copies`` independent phi(Round_stoc(scale * w)) (eqs. 6-7), shape ``w.shape + (copies,)``,
    the uniforms drawn from the counter-based stream :func:`pyprivml.backends.numpy_backend.uniforms`
    so every backend and thread count gives the same bits for the same key.

and ``asarray(x)`` (move/convert into the backend's array type). The numpy backend is the exact
reference every other backend is tested against.

This package is the lowest Python layer: its modules import nothing from pyprivml but each other
and the extension ``pyprivml._native``. What they share with the layers above lives here and is
re-exported there: the delayed-reduction bound :func:`pyprivml.backends.bounds.max_delayed_terms`
(``pyprivml.field.max_delayed_terms``) and the thread counts of :mod:`pyprivml.backends.threads`
(``pyprivml.threads``).

Besides the reference, the CPU backends are three exact routes to the same results: ``numba``
(integer SIMD tiles, JIT-compiled for the CPU it runs on), ``cython`` (the C kernels, cloned per
x86-64 level and chosen at run time), ``blas`` (float64 BLAS on centred limbs, FFLAS-FFPACK's
way) and ``int8`` (balanced 8- or 7-bit limbs through oneDNN's int8 GEMM, where the CPU has
VNNI or AMX); ``cupy`` runs on GPUs.

Choose a backend with :func:`set_backend`, the environment variable ``PYPRIVML_BACKEND`` or the
per-call ``backend=`` keyword; ``"auto"`` takes CuPy for CuPy arrays and otherwise the first
available of numba, cython, numpy, except for the linear-algebra primitives, whose ``"auto"``
route :mod:`pyprivml.backends.autotune` chooses per machine, prime and shape
(:func:`backend_for`).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import numpy as np

__all__ = ["available_backends", "set_backend", "get_backend", "default_backend_name", "backend_for",
           "entrywise_route", "warm_up", "cuda_available", "BACKEND_NAMES"]

BACKEND_NAMES = ("numpy", "numba", "cython", "blas", "int8", "cupy")
_CPU_AUTO_ORDER = ("numba", "cython", "numpy")
_loaded: dict[str, ModuleType] = {}
_failed: dict[str, str] = {}
_current: str | None = None


def _load(name: str) -> ModuleType:
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; valid names: {', '.join(BACKEND_NAMES)} or 'auto'")
    if name in _loaded:
        return _loaded[name]
    if name in _failed:
        raise ImportError(f"backend {name!r} is not available here: {_failed[name]}")
    try:
        module = importlib.import_module(f"pyprivml.backends.{name}_backend")
    except ImportError as exc:
        _failed[name] = str(exc)
        raise ImportError(f"backend {name!r} is not available here: {exc}") from exc
    _loaded[name] = module
    return module


def available_backends() -> list[str]:
    """Names of the backends that import and run on this machine."""
    names = []
    for name in BACKEND_NAMES:
        try:
            _load(name)
        except ImportError:
            continue
        names.append(name)
    return names


def cuda_available() -> bool:
    """Whether CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no cupy, no driver or no device all mean "no GPU here"
        return False


def set_backend(name: str) -> None:
    """Make `name` ("numpy", "numba", "cython", "cupy" or "auto") the default backend."""
    global _current
    if name != "auto":
        _load(name)
    _current = name


def _is_cupy_array(x) -> bool:
    return type(x).__module__.startswith("cupy")


def default_backend_name() -> str:
    """The backend of calls that name none: set_backend's, else PYPRIVML_BACKEND, else "auto"."""
    return _current or os.environ.get("PYPRIVML_BACKEND", "auto")


def get_backend(name: str | None = None, *arrays) -> ModuleType:
    """The backend module for an explicit `name`, else the default (set_backend, then the
    environment variable PYPRIVML_BACKEND, then "auto"). "auto" picks CuPy when given CuPy
    arrays, otherwise the fastest available CPU backend."""
    if name is None:
        name = default_backend_name()
    if name != "auto":
        return _load(name)
    if any(_is_cupy_array(a) for a in arrays):
        return _load("cupy")
    for candidate in _CPU_AUTO_ORDER:
        try:
            return _load(candidate)
        except ImportError:
            continue
    raise ImportError("no backend available")  # unreachable: numpy always imports


def backend_for(name: str | None, primitive: str, p: int, shape: tuple, *arrays) -> ModuleType:
    """The backend for one call of a linear-algebra `primitive` on operands of shape (n, k, m)
    modulo p: an explicit or default `name` as in :func:`get_backend`, and for ``"auto"`` on
    host arrays the route ``PYPRIVML_ROUTE`` forces or the autotuner picks."""
    if name is None:
        name = default_backend_name()
    if name == "auto" and not any(_is_cupy_array(a) for a in arrays):
        from . import autotune

        name = autotune.route(primitive, p, shape)
    return get_backend(name, *arrays)


def warm_up(p: int, dtypes=(np.int64, np.uint32)) -> None:
    """Load (compile on first use, from Numba's cache after) the JIT kernels of the matrix products
    for operands of ``dtypes`` modulo p, on tiny inputs: protocols call it before their timed
    phases. Tiny calls themselves take the C kernels (:func:`entrywise_route`,
    :func:`~pyprivml.backends.autotune.small_route`), so without this the first large call of a
    run would load them inside an iteration."""
    try:
        numba_backend = get_backend("numba")
    except ImportError:
        return
    for dtype in dtypes:
        a = np.ones((2, 2), dtype=dtype)
        numba_backend.matmul(a, a, p)
        numba_backend.matvec(a, a[0], p)
        numba_backend.combine(a, a, p)


def entrywise_route(size: int, *arrays) -> str | None:
    """The backend name for one entry-wise operation on ``size`` entries when the call names
    none: under the default "auto", on host arrays below
    :data:`~pyprivml.backends.autotune.TINY_WORK` entries, the C kernels (least call cost);
    otherwise None (the default backend)."""
    if default_backend_name() != "auto" or any(_is_cupy_array(a) for a in arrays):
        return None
    from . import autotune

    return "cython" if size < autotune.TINY_WORK and autotune.has_c_kernels() else None
