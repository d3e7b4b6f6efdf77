"""matvec, matvec_t and combine for backends whose one kernel is a matrix product (the float64
limbs of :mod:`.blas_backend`, the int8 limbs of :mod:`.int8_backend`): each is that product
with one side a column or the encoding shape.

>>> import numpy as np
>>> from pyprivml.backends import numpy_backend
>>> matvec, matvec_t, combine = from_matmul(numpy_backend.matmul)
>>> A = np.array([[1, 2], [3, 4]])
>>> matvec(A, np.array([1, 1]), 5), matvec_t(A, np.array([1, 1]), 5)
(array([3, 2]), array([4, 1]))
"""

from __future__ import annotations

import numpy as np

__all__ = ["from_matmul"]


def from_matmul(matmul):
    """(matvec, matvec_t, combine) computed by ``matmul(A, B, p)``."""

    def matvec(A, x, p):
        return matmul(A, np.asarray(x).reshape(-1, 1), p).reshape(-1)

    def matvec_t(A, x, p):
        return matmul(np.ascontiguousarray(np.asarray(A).T), np.asarray(x).reshape(-1, 1), p).reshape(-1)

    def combine(C, X, p):
        return matmul(C, X, p)

    return matvec, matvec_t, combine
