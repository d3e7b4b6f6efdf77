"""Thread counts of the kernels, kept importable under their first name: the implementation
(one state for the whole process) lives with the backends in :mod:`pyprivml.backends.threads`.

>>> from pyprivml.threads import get_num_threads, set_num_threads
>>> old = get_num_threads(); set_num_threads(1); get_num_threads()
1
>>> set_num_threads(old)
"""

from .backends.threads import (ENV_VAR, default_num_threads, get_num_threads, limit_blas_threads,  # noqa: F401
                               set_num_threads, use_numba_threads)
from .backends.threads import __all__  # noqa: F401
