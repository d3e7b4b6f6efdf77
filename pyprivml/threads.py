"""Thread counts of the kernels, kept importable under their first name: the implementation
(one state for the whole process) lives with the backends in :mod:`pyprivml.backends.threads`,
which the backends use without importing the layer above them.

>>> from pyprivml.threads import get_num_threads, set_num_threads, limit_blas_threads
>>> old = get_num_threads(); set_num_threads(1); get_num_threads()
1
>>> import pyprivml.backends.threads
>>> pyprivml.backends.threads.get_num_threads()    # the same state, seen from the backends
1
>>> set_num_threads(old)
>>> with limit_blas_threads():
...     pass
"""

from .backends import threads as _impl
from .backends.threads import *  # noqa: F401,F403
from .backends.threads import __all__  # noqa: F401


def __getattr__(name):
    # Private names (the current count, the BLAS controller) are read from the one module that
    # owns them; a copy here would go stale at the next set_num_threads.
    return getattr(_impl, name)
