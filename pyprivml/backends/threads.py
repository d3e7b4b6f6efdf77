"""One threading runtime per hot path.

On a small machine Numba's worker pool and OpenBLAS's pool fight for the same cores: OpenBLAS
threads keep spinning for a while after a BLAS call and steal the cores a parallel Numba kernel is
running on. The Numba backend therefore runs its large kernels inside :func:`limit_blas_threads`,
and :func:`set_num_threads` sizes both pools together.

The environment variable ``PYPRIVML_NUM_THREADS`` sets the default (e.g. 1 under ``mpiexec`` with
one rank per core); otherwise every core this process may run on is used.

>>> from pyprivml.backends.threads import set_num_threads, get_num_threads, limit_blas_threads
>>> old = get_num_threads(); set_num_threads(1); get_num_threads()
1
>>> set_num_threads(old)
>>> with limit_blas_threads():
...     pass
"""

from __future__ import annotations

import contextlib
import os

__all__ = [
    "ENV_VAR", "default_num_threads", "get_num_threads", "set_num_threads", "use_numba_threads",
    "limit_blas_threads",
]

ENV_VAR = "PYPRIVML_NUM_THREADS"
_controller = None
_num_threads: int | None = None  # set by set_num_threads; None means default_num_threads()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_num_threads() -> int:
    """``PYPRIVML_NUM_THREADS`` if set, else the number of cores this process may use."""
    value = os.environ.get(ENV_VAR)
    if value is None:
        return _cores()
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_VAR} must be a positive integer, got {value!r}")
    return n


def _blas():
    # Finding the loaded BLAS libraries walks the process's shared objects: do it once.
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def get_num_threads() -> int:
    """The number of threads the Numba kernels use."""
    import numba

    n = default_num_threads() if _num_threads is None else _num_threads
    return min(n, numba.config.NUMBA_NUM_THREADS)


def use_numba_threads(at_most: int | None = None) -> int:
    """Apply :func:`get_num_threads` (capped at `at_most`) to Numba in the calling thread.

    Numba's thread count is thread-local, so kernels call this before each parallel launch; it
    costs well under a microsecond. Returns the count applied.
    """
    import numba

    n = get_num_threads() if at_most is None else max(1, min(get_num_threads(), at_most))
    numba.set_num_threads(n)
    return n


def set_num_threads(n: int | None = None) -> None:
    """Use `n` threads (default :func:`default_num_threads`) in Numba kernels and in BLAS."""
    global _num_threads
    n = default_num_threads() if n is None else int(n)
    if n < 1:
        raise ValueError(f"the thread count must be a positive integer, got {n}")
    _num_threads = n
    use_numba_threads()
    _blas().limit(limits=n, user_api="blas")


@contextlib.contextmanager
def limit_blas_threads(n: int = 1):
    """Run the body with BLAS limited to `n` threads, restoring the previous limits after."""
    with _blas().limit(limits=n, user_api="blas"):
        yield
