"""The Cython extension pyprivml._native directly, and the cython backend's own plumbing.

The exhaustive cross-backend exactness tests live in test_linalg.py and test_quantization.py (the
``backend`` fixture); here: the extension against Python integers at the awkward primes, the GIL
released during kernels, strided and non-contiguous inputs, bad arguments, splitting work across
threads without changing a bit, and the ImportError the registry relies on.
"""

import importlib
import sys
import threading

import numpy as np
import pytest

import pyprivml
from pyprivml.backends import numpy_backend
from pyprivml.field import max_delayed_terms

_native = pytest.importorskip("pyprivml._native", reason="the extension is built by `make build`")
cython_backend = importlib.import_module("pyprivml.backends.cython_backend")

# The default prime, primes whose delayed block is 33 and 32 (just above the switch to reducing
# every product), 31, 2**31 - 1 (block 4) and 2**32 - 5 (block 1).
PRIMES = [33554393, 747657829, 759250111, 771398857, 2147483647, 4294967291]


def exact_matmul(A, B, p):
    """Python-integer reference."""
    return ((np.asarray(A, dtype=object) @ np.asarray(B, dtype=object)) % p).astype(np.int64)


def u32(a):
    return np.ascontiguousarray(a, dtype=np.uint32)


def assert_four_kernels_exact(A, B, p, column):
    """matmul, combine, matvec (B's `column`) and matvec_t (A's row 1) against Python integers."""
    want = exact_matmul(A, B, p)
    assert np.array_equal(_native.matmul(u32(A), u32(B.T), p), want)
    assert np.array_equal(_native.combine(u32(A), u32(B), p), want)
    assert np.array_equal(_native.matvec(u32(A), u32(B[:, column]), p), want[:, column])
    assert np.array_equal(_native.matvec_t(u32(B), u32(A[1]), p), want[1])


@pytest.mark.parametrize("p", PRIMES)
def test_kernels_match_python_integers_at_the_reduction_bound(p, rng):
    bound = min(max_delayed_terms(p), 1100)
    for k in (bound - 1, bound, bound + 1):
        k = max(k, 1)
        A = np.full((5, k), p - 1, dtype=np.int64)
        A[1] = rng.integers(0, p, k)
        B = np.full((k, 6), p - 1, dtype=np.int64)
        B[:, 2] = rng.integers(0, p, k)
        assert_four_kernels_exact(A, B, p, column=2)


@pytest.mark.parametrize("p", [2147483647, 2774722721, 3202412033, 4294967291])
def test_large_primes_sum_product_halves_exactly_over_long_rows(p, rng):
    """Above about 2**29.5 the kernels sum each product's 32-bit halves apart instead of reducing
    every product: exact against Python integers for long inner dimensions of all-(p - 1) and
    random entries, and for a random row with a zero."""
    for k in (1, 7, 1000, 4099):
        A = np.full((3, k), p - 1, dtype=np.int64)
        A[1] = rng.integers(0, p, k)
        A[2, 0] = 0
        B = np.full((k, 5), p - 1, dtype=np.int64)
        B[:, 1] = rng.integers(0, p, k)
        assert_four_kernels_exact(A, B, p, column=1)


def test_empty_shapes():
    p = 97
    assert _native.matmul(u32(np.zeros((0, 3))), u32(np.zeros((4, 3))), p).shape == (0, 4)
    assert np.array_equal(_native.matmul(u32(np.zeros((2, 0))), u32(np.zeros((3, 0))), p),
                          np.zeros((2, 3), dtype=np.int64))
    assert np.array_equal(_native.matvec_t(u32(np.zeros((0, 3))), u32(np.zeros(0)), p), [0, 0, 0])
    assert _native.combine(u32(np.ones((2, 3))), u32(np.zeros((3, 0))), p).shape == (2, 0)
    out, m = _native.quantize(np.zeros(0), 1.0, p)
    assert out.shape == (0,) and m == 0.0
    assert _native.uniforms(1, 5, 0).shape == (0,)


def test_stream_matches_reference(rng):
    for key in (0, 2**64 - 1, int(rng.integers(0, 2**63))):
        for start in (0, 1, 2**40):
            assert np.array_equal(_native.uniforms(key, start, 257),
                                  numpy_backend.uniforms(key, 257, start=start))
    assert _native.mix64(1) == int(numpy_backend.mix64(np.array([1], dtype=np.uint64))[0])


def test_stochastic_split_with_first_is_one_stream(rng):
    w = rng.normal(size=1000) * 5
    whole, m = _native.quantize_stochastic(w, 8.0, 97, 12345, 3)
    head, m1 = _native.quantize_stochastic(w[:333], 8.0, 97, 12345, 3, 0)
    tail, m2 = _native.quantize_stochastic(w[333:], 8.0, 97, 12345, 3, 333)
    assert np.array_equal(whole, np.concatenate([head, tail]))
    assert m == max(m1, m2) == np.max(np.abs(w * 8.0))


def test_outputs_are_written_in_place_and_returned():
    A = u32([[1, 2], [3, 4]])
    out = np.full((2, 2), -1, dtype=np.int64)
    assert _native.matmul(A, A, 11, out) is out
    assert np.array_equal(out, [[5, 0], [0, 3]])  # A @ A.T mod 11
    big = np.full((3, 5), -1, dtype=np.int64)
    _native.combine(A, A, 11, big[1:, 2:4])  # a block of a larger output
    assert np.array_equal(big[1:, 2:4], [[7, 10], [4, 0]])
    assert (big[0] == -1).all() and (big[:, :2] == -1).all() and (big[:, 4] == -1).all()


def test_gil_is_released_during_a_kernel(gil_probe):
    """Python in the main thread keeps running while another thread is inside one long kernel
    call: with the GIL held, no Python bytecode could run between that call's start and end."""
    n = 1536  # about 0.1 s of kernel: long enough for the scheduler to run the main thread
    A = u32(np.arange(n * n).reshape(n, n) % 97)
    _, steps, seconds = gil_probe(lambda: _native.matmul(A, A, 97))
    assert steps > 10, f"main thread ran only {steps} times during {seconds:.3f} s"


def test_two_threads_compute_concurrently_and_exactly(rng):
    p = 2**31 - 1
    cases = [(rng.integers(0, p, (70, 90)), rng.integers(0, p, (90, 33))) for _ in range(2)]
    results = [None, None]

    def work(i):
        A, B = cases[i]
        for _ in range(20):
            results[i] = _native.matmul(u32(A), u32(B.T), p)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for (A, B), got in zip(cases, results):
        assert np.array_equal(got, exact_matmul(A, B, p))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.int64, np.uint64])
def test_backend_handles_dtypes_and_non_contiguous_views(dtype, rng):
    p = 251
    big = rng.integers(0, p, (40, 30)).astype(dtype)
    views = {
        "strided": big[::2, ::3],                    # (20, 10), no contiguous axis
        "transposed": big[:10, :20].T,                # (20, 10), Fortran order
        "reversed": big[::-1, ::-1][:20, :10],        # negative strides
        "fortran": np.asfortranarray(big[:20, :10]),
    }
    other = rng.integers(0, p, (10, 7)).astype(dtype)[::-1]
    for name, A in views.items():
        want = numpy_backend.matmul(A, other, p)
        assert np.array_equal(cython_backend.matmul(A, other, p), want), name
        assert np.array_equal(cython_backend.combine(A, other, p), want), name
        x = A[:, 3]  # a strided column
        assert np.array_equal(cython_backend.matvec_t(A, x, p), numpy_backend.matvec_t(A, x, p))
        assert np.array_equal(cython_backend.matvec(A.T, x, p), numpy_backend.matvec(A.T, x, p))


def test_backend_quantize_handles_shapes_and_views(rng):
    w = rng.normal(size=(6, 8, 5))[:, ::2].astype(np.float32)  # non-contiguous float32
    out, m = cython_backend.quantize(w, 2.0**7, 97)
    want, wm = numpy_backend.quantize(w, 2.0**7, 97)
    assert out.shape == w.shape and np.array_equal(out, want) and m == wm
    out, m = cython_backend.quantize_stochastic(w, 2.0**3, 97, 99, 4)
    want, wm = numpy_backend.quantize_stochastic(w, 2.0**3, 97, 99, 4)
    assert out.shape == w.shape + (4,) and np.array_equal(out, want) and m == wm
    out, m = cython_backend.quantize(np.float64(2.5), 1.0, 97)  # a 0-d input
    assert out.shape == () and int(out) == 3 and m == 2.5


def test_results_do_not_depend_on_the_thread_split(monkeypatch, rng):
    """Force tiny inputs through the multi-threaded paths (3 uneven parts) and compare."""
    p = 33554393
    A, B = rng.integers(0, p, (37, 45)), rng.integers(0, p, (45, 301))
    C, w = rng.integers(0, p, (5, 45)), rng.normal(size=(333, 2)) * 100
    single = [cython_backend.matmul(A, B, p), cython_backend.matmul(B.T, A.T, p),
              cython_backend.matvec(A, B[:, 0], p), cython_backend.matvec_t(B, A[0], p),
              cython_backend.combine(C, B, p), *cython_backend.quantize(w, 16.0, p),
              *cython_backend.quantize_stochastic(w, 16.0, p, 7, 3)]
    monkeypatch.setattr(cython_backend, "_num_threads", lambda: 3)
    monkeypatch.setattr(cython_backend, "_PARALLEL_WORK", 1)
    monkeypatch.setattr(cython_backend, "_PARALLEL_VALUES", 1)
    split = [cython_backend.matmul(A, B, p), cython_backend.matmul(B.T, A.T, p),
             cython_backend.matvec(A, B[:, 0], p), cython_backend.matvec_t(B, A[0], p),
             cython_backend.combine(C, B, p), *cython_backend.quantize(w, 16.0, p),
             *cython_backend.quantize_stochastic(w, 16.0, p, 7, 3)]
    for one, many in zip(single, split):
        assert np.array_equal(one, many)
    assert np.array_equal(single[0], exact_matmul(A, B, p))
    w[100, 1] = np.nan  # a NaN in one block makes the combined maximum NaN
    assert np.isnan(cython_backend.quantize(w, 1.0, p)[1])
    assert np.isnan(cython_backend.quantize_stochastic(w, 1.0, p, 7, 2)[1])


def test_bad_arguments_are_rejected():
    A = u32(np.ones((3, 4)))
    with pytest.raises(ValueError, match="dtype mismatch"):
        _native.matmul(np.ones((3, 4), dtype=np.int64), A, 7)
    with pytest.raises(ValueError, match="both need 4 columns"):
        _native.matmul(A, u32(np.ones((2, 5))), 7)
    with pytest.raises(ValueError, match="outside the kernels' range"):
        _native.matmul(A, A, 1)
    with pytest.raises(ValueError, match="outside the kernels' range"):
        _native.matmul(A, A, 2**32)
    with pytest.raises(TypeError, match="p must be an integer"):
        _native.matmul(A, A, 7.0)
    with pytest.raises(ValueError, match="rows must be contiguous"):
        _native.matmul(u32(np.ones((3, 8)))[:, ::2], A, 7)
    with pytest.raises(ValueError, match="out has shape"):
        _native.matmul(A, A, 7, np.empty((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="read-only"):
        out = np.empty((3, 3), dtype=np.int64)
        out.setflags(write=False)
        _native.matmul(A, A, 7, out)
    with pytest.raises(ValueError, match="x has length"):
        _native.matvec(A, u32(np.ones(3)), 7)
    with pytest.raises(ValueError, match="x has length"):
        _native.matvec_t(A, u32(np.ones(4)), 7)
    with pytest.raises(ValueError, match="X needs 4 rows"):
        _native.combine(A, A, 7)
    with pytest.raises(ValueError, match="copies must be a positive integer"):
        _native.quantize_stochastic(np.ones(3), 1.0, 7, 1, 0)
    with pytest.raises(ValueError, match="key = -1 is outside"):
        _native.quantize_stochastic(np.ones(3), 1.0, 7, -1, 1)
    with pytest.raises(ValueError, match="out has length"):
        _native.quantize(np.ones(3), 1.0, 7, np.empty(2, dtype=np.int64))
    frozen = u32(np.ones((3, 4)))
    frozen.setflags(write=False)  # read-only inputs are fine: the kernels only read them
    assert np.array_equal(_native.matmul(frozen, frozen, 7), np.full((3, 3), 4))


def test_import_fails_cleanly_without_the_extension(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyprivml._native", None)
    monkeypatch.delattr(pyprivml, "_native", raising=False)
    monkeypatch.delitem(sys.modules, "pyprivml.backends.cython_backend")
    with pytest.raises(ImportError, match="make build"):
        importlib.import_module("pyprivml.backends.cython_backend")


def test_the_c_kernels_choose_their_clone_from_this_cpu_and_kernel_info_says_so():
    """The extension is built for the baseline target; the loader picks the clone from CPUID."""
    import platform

    import pyprivml as pp

    native = pytest.importorskip("pyprivml._native")
    info = pp.kernel_info()
    flags = set()
    for line in open("/proc/cpuinfo") if platform.system() == "Linux" else ():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    level = native.dispatch_level()
    if platform.machine() == "x86_64" and flags:
        v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= flags
        v3 = {"avx2", "fma", "bmi2", "movbe"} <= flags
        assert level == (4 if v4 and v3 else 3 if v3 else 1)
        assert set(info["features"]) <= flags and ("avx2" in info["features"]) == ("avx2" in flags)
    assert info["dispatch"]["c_kernels"].startswith(("x86-64", "no run-time dispatch"))
    assert set(info["routes"]) == {"modmatmul", "modmatvec", "modmatvec_t", "modcombine", "quantize"}
    assert "per product" in info["routes"]["modmatmul"]["32-bit"]["reduction"]
    assert info["backends"]["auto"] in info["backends"]["available"]


def test_the_ifma_tiles_equal_the_portable_tiles_and_the_reference():
    """modmatmul's AVX-512 IFMA tiles (p < 2**26) against the portable tiles and the NumPy
    reference, bit for bit: random and all-(p - 1) operands, ragged edges, several reduction
    blocks; above 2**26 the portable tiles run whatever the switch says."""
    native = pytest.importorskip("pyprivml._native")
    if not native.ifma_route(True):
        pytest.skip("this CPU has no AVX-512 IFMA (or the build has no IFMA tiles)")
    from pyprivml.backends import numpy_backend as ref

    rng = np.random.default_rng(26)
    try:
        for p in (2, 65521, 2**25 - 39, 2**26 - 5, 2**26 + 15):
            for n, k, m in ((4, 8, 4), (9, 37, 7), (12, 5000, 8)):
                for A, B in ((rng.integers(0, p, (n, k)), rng.integers(0, p, (k, m))),
                             (np.full((n, k), p - 1), np.full((k, m), p - 1))):
                    A32, Bt32 = A.astype(np.uint32), np.ascontiguousarray(B.T.astype(np.uint32))
                    want = ref.matmul(A, B, p)
                    for ifma in (True, False):
                        native.ifma_route(ifma)
                        assert np.array_equal(native.matmul(A32, Bt32, p), want), (p, n, k, m, ifma)
    finally:
        native.ifma_route(True)
