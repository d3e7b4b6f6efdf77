"""Exact modular linear algebra over F_p, dispatched to a backend.

Every function takes a :class:`~pyprivml.PrimeField` or a plain int p, integer arrays of any
dtype, shape and strides with entries in [0, p), and returns int64 arrays in [0, p) equal bit for
bit to the Python-integer result. galois ``FieldArray`` operands (the field is then optional)
come back as arrays of their field, torch tensors as torch tensors, zero-copy through DLPack
(:mod:`pyprivml.interop`); CuPy arrays run on the GPU. Backends use delayed reduction: products
accumulate in 64 bits
and are reduced once per block of at most ``field.max_delayed_terms`` terms.

``backend=`` forces a route for one call (any of :data:`pyprivml.backends.BACKEND_NAMES`);
otherwise ``"auto"`` takes, for the matrix products, the route the autotuner found fastest on
this machine for the prime's size and the operands' shape (:mod:`pyprivml.backends.autotune`;
``PYPRIVML_ROUTE`` forces one per primitive), and Numba's kernels for the entry-wise operations;
calls too small to be tuned take the C kernels, whose call costs least
(:func:`~pyprivml.backends.autotune.small_route`, :func:`~pyprivml.backends.entrywise_route`).

Example
-------
>>> import numpy as np, pyprivml as pp
>>> A = np.array([[1, 2], [3, 4]]); B = np.array([[5, 6], [7, 8]])
>>> pp.modmatmul(A, B, 11)
array([[ 8,  0],
       [10,  6]])
>>> pp.modmatvec(A, np.array([1, 1]), 11, transpose=True)
array([4, 6])
>>> pp.modadd(A, 9, 11), pp.modsub(A, np.array([2, 5]), 11), pp.modmul(A, A, 11)
(array([[10,  0],
       [ 1,  2]]), array([[10,  8],
       [ 1, 10]]), array([[1, 4],
       [9, 5]]))
"""

from __future__ import annotations

import functools

import numpy as np

from .backends import backend_for, entrywise_route, get_backend
from .field import as_field, check_elements
from .interop import field_from, unwrap, wrap

__all__ = ["modmatmul", "modmatvec", "modcombine", "modadd", "modsub", "modmul"]


def _interop(fn):
    """Let `fn` take galois FieldArrays (the field then optional) and torch tensors, and give
    its result back in the same kind (:mod:`pyprivml.interop`)."""
    @functools.wraps(fn)
    def accepting(a, b, field=None, **options):
        if type(a) is np.ndarray and type(b) is np.ndarray and field is not None:
            return fn(a, b, field, **options)    # plain arrays: nothing to unwrap (the common call)
        (a, origin_a), (b, origin_b) = unwrap(a, "the first operand"), unwrap(b, "the second operand")
        field = field_from((origin_a, origin_b), field, fn.__name__)
        return wrap(fn(a, b, field, **options), (origin_a, origin_b))

    return accepting


def _operands(name, backend, field, arrays, check, labels=("first operand", "second operand"), route=None):
    """The backend, the field and the arrays converted (and range-checked) for it. ``route``
    (the primitive's name for the autotuner) picks the backend by machine, prime and shape."""
    F = as_field(field)
    be = get_backend(backend, *arrays) if route is None else backend_for(
        backend, route, F.p, _work_shape(*arrays), *arrays)
    arrays = [be.asarray(a) for a in arrays]
    if check:
        for label, a in zip(labels, arrays):
            check_elements(a, F.p, f"{name}: {label}")
    return be, F, arrays


def _work_shape(a, b) -> tuple:
    """(n, k, m) of a matrix a times a matrix or vector b; (0, 0, 0) for shapes that the
    primitive's own checks will refuse."""
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) != 2 or len(sb) not in (1, 2):
        return (0, 0, 0)
    return (sa[0], sa[1], sb[1] if len(sb) == 2 else 1)


def _need_ndim(name, label, a, ndim):
    if a.ndim != ndim:
        raise ValueError(f"{name}: {label} must be {ndim}-D, got shape {tuple(a.shape)}")


@_interop
def modmatmul(A, B, field=None, *, backend=None, check=True):
    """A @ B modulo p, exact, for A of shape (n, k) and B of shape (k, m).

    ``check=False`` skips the range check (one pass over both inputs) for data the caller
    already knows to lie in [0, p), such as a protocol's own encoded blocks.
    """
    be, F, (A, B) = _operands("modmatmul", backend, field, (A, B), check, route="modmatmul")
    _need_ndim("modmatmul", "A", A, 2)
    _need_ndim("modmatmul", "B", B, 2)
    if A.shape[1] != B.shape[0]:
        raise ValueError(
            f"modmatmul: A has shape {tuple(A.shape)} and B has shape {tuple(B.shape)}; "
            f"A's columns must equal B's rows"
        )
    return be.matmul(A, B, F.p)


@_interop
def modmatvec(A, x, field=None, *, transpose=False, backend=None, check=True):
    """A @ x (or A.T @ x with ``transpose=True``) modulo p, for A (n, k) and a vector x."""
    be, F, (A, x) = _operands("modmatvec", backend, field, (A, x), check,
                              route="modmatvec_t" if transpose else "modmatvec")
    _need_ndim("modmatvec", "A", A, 2)
    _need_ndim("modmatvec", "x", x, 1)
    inner = A.shape[0] if transpose else A.shape[1]
    if x.shape[0] != inner:
        what = "rows" if transpose else "columns"
        raise ValueError(
            f"modmatvec: A has shape {tuple(A.shape)} and x has length {x.shape[0]}; "
            f"x must have one entry per {what} of A ({inner})"
        )
    return be.matvec_t(A, x, F.p) if transpose else be.matvec(A, x, F.p)


@_interop
def modcombine(C, X, field=None, *, backend=None, check=True):
    """Linear combinations of long rows: C (n, k) @ X (k, L) modulo p, with k small and L huge.

    This is the shape of Lagrange encoding (seed 004 eq. 9): each encoded block is a linear
    combination of the K + T data and mask blocks, flattened to rows.
    """
    be, F, (C, X) = _operands("modcombine", backend, field, (C, X), check, route="modcombine")
    _need_ndim("modcombine", "C", C, 2)
    _need_ndim("modcombine", "X", X, 2)
    if C.shape[1] != X.shape[0]:
        raise ValueError(
            f"modcombine: C has shape {tuple(C.shape)} and X has shape {tuple(X.shape)}; "
            f"C needs one column per row of X"
        )
    return be.combine(C, X, F.p)


def _entrywise(name, op, a, b, field, backend, check):
    if backend is None:   # tiny operations: the backend with the least call cost
        backend = entrywise_route(max(np.size(a), np.size(b)), a, b)
    be, F, (a, b) = _operands(name, backend, field, (a, b), check, labels=("a", "b"))
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(
            f"{name}: a has shape {tuple(a.shape)} and b has shape {tuple(b.shape)}, which do not "
            f"broadcast; they must broadcast like NumPy arrays (from the last axis on, each pair of "
            f"lengths equal or one of them 1)"
        ) from None
    return getattr(be, op)(a, b, F.p)


@_interop
def modadd(a, b, field=None, *, backend=None, check=True):
    """(a + b) mod p entry-wise, the operands broadcasting like NumPy's (either may be a scalar).

    Adding shares is how parties add the secrets they hold (Shamir sharing, seed 004 app. D).
    Returns an int64 array of the broadcast shape; ``check=False`` skips the range check, as in
    :func:`modmatmul`.
    """
    return _entrywise("modadd", "add", a, b, field, backend, check)


@_interop
def modsub(a, b, field=None, *, backend=None, check=True):
    """(a - b) mod p entry-wise, with broadcasting as :func:`modadd`; 0 - 1 gives p - 1."""
    return _entrywise("modsub", "sub", a, b, field, backend, check)


@_interop
def modmul(a, b, field=None, *, backend=None, check=True):
    """(a * b) mod p entry-wise, with broadcasting as :func:`modadd`.

    Exact for every p < 2**32: each product is at most (p - 1)**2 < 2**64 and is formed in uint64
    before one reduction.
    """
    return _entrywise("modmul", "mul", a, b, field, backend, check)
