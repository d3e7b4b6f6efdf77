"""The CuPy backend against the exact NumPy reference (skipped cleanly without CuPy or a GPU).

The generic cross-backend tests in test_linalg.py and test_quantization.py also cover it through
the ``backend`` fixture; these add the GPU-specific paths: tiles with ragged edges, warps past the
last row, the delayed-reduction bound inside one shared-memory tile, and device-resident results.
"""

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.backends import get_backend, numpy_backend
from pyprivml.field import max_delayed_terms

cupy = pytest.importorskip("cupy", reason="the CuPy backend needs CuPy")
try:
    _has_device = cupy.cuda.runtime.getDeviceCount() > 0
except Exception:
    _has_device = False
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _has_device, reason="the CuPy backend needs a CUDA device"),
]

PRIMES = [97, 33554393, 759250111, 2147483647, 4294967291]


@pytest.fixture
def cb():
    return get_backend("cupy")


@pytest.mark.parametrize("p", PRIMES)
@pytest.mark.parametrize("shape", [(1, 1, 1), (17, 33, 15), (40, 5, 70), (3, 1000, 2)])
def test_products_match_reference(cb, p, shape, rng):
    n, k, m = shape
    A, B = rng.integers(0, p, (n, k)), rng.integers(0, p, (k, m))
    A[0] = p - 1  # the largest partial sums
    B[:, 0] = p - 1
    want = numpy_backend.matmul(A, B, p)
    for got in (cb.matmul(cupy.asarray(A), cupy.asarray(B), p), cb.combine(A, B, p)):
        assert isinstance(got, cupy.ndarray) and got.dtype == cupy.int64
        assert np.array_equal(cupy.asnumpy(got), want)
    x, y = rng.integers(0, p, k), rng.integers(0, p, n)
    assert np.array_equal(cupy.asnumpy(cb.matvec(A, x, p)), numpy_backend.matvec(A, x, p))
    assert np.array_equal(cupy.asnumpy(cb.matvec_t(A, y, p)), numpy_backend.matvec_t(A, y, p))


@pytest.mark.parametrize("p", [759250111, 2147483647, 4294967291, 33554393])
def test_reduction_bound_all_max(cb, p):
    bound = min(max_delayed_terms(p), 2000)
    for k in (bound - 1, bound, bound + 1):
        k = max(k, 1)
        A = np.full((3, k), p - 1)
        B = np.full((k, 2), p - 1)
        want = numpy_backend.matmul(A, B, p)
        assert np.array_equal(cupy.asnumpy(cb.matmul(A, B, p)), want)
        assert np.array_equal(cupy.asnumpy(cb.combine(A, B, p)), want)
        assert np.array_equal(cupy.asnumpy(cb.matvec(A, B[:, 0], p)), want[:, 0])


def test_empty_and_strided(cb, rng):
    p = 97
    assert cb.matmul(np.zeros((0, 3), int), np.zeros((3, 4), int), p).shape == (0, 4)
    assert (cupy.asnumpy(cb.matmul(np.zeros((2, 0), int), np.zeros((0, 3), int), p)) == 0).all()
    big = cupy.asarray(rng.integers(0, p, (30, 40)).astype(np.uint16))
    A = big[::2, ::3]
    B = big[:14, :9][::-1]
    want = numpy_backend.matmul(cupy.asnumpy(A), cupy.asnumpy(B), p)
    assert np.array_equal(cupy.asnumpy(cb.matmul(A, B, p)), want)


def test_quantize_bits_match_reference(cb, rng):
    p = 33554393
    w = np.concatenate([rng.normal(size=1000) * 50, [0.5, -0.5, 1.5, -2.5, 0.0, -0.0]])
    out, m = cb.quantize(cupy.asarray(w), 2.0**10, p)
    want, wm = numpy_backend.quantize(w, 2.0**10, p)
    assert np.array_equal(cupy.asnumpy(out), want) and m == wm
    out, m = cb.quantize_stochastic(cupy.asarray(w.reshape(2, -1)), 2.0**10, p, 2**64 - 3, 3)
    want, wm = numpy_backend.quantize_stochastic(w.reshape(2, -1), 2.0**10, p, 2**64 - 3, 3)
    assert out.shape == (2, 503, 3)
    assert np.array_equal(cupy.asnumpy(out), want) and m == wm
    w[7] = np.nan
    assert np.isnan(cb.quantize(w, 1.0, p)[1])


def test_public_api_keeps_cupy_arrays_on_the_device(rng):
    A = cupy.asarray(rng.integers(0, 97, (5, 6)))
    B = cupy.asarray(rng.integers(0, 97, (6, 4)))
    got = pp.modmatmul(A, B, 97)  # "auto" picks CuPy for CuPy arrays
    assert isinstance(got, cupy.ndarray)
    assert np.array_equal(cupy.asnumpy(got), numpy_backend.matmul(cupy.asnumpy(A), cupy.asnumpy(B), 97))
