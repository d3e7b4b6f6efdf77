"""Exact modular linear algebra: every backend against the NumPy reference, the reference against
Python integers, on random (hypothesis) and edge inputs, and clear errors on bad input."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyprivml as pp
from pyprivml import threads
from pyprivml.backends import numpy_backend as ref
from pyprivml.field import DEFAULT_PRIME, max_delayed_terms

# Small, default, delayed-reduction bound of 4 terms (2**31 - 1), 1 term (just below 2**32).
PRIMES = [3, 97, 65521, DEFAULT_PRIME, 2**31 - 1, 4294967291]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
# Primes whose delayed-reduction bound max_delayed_terms(p) is small enough to test at:
# 16384 (the default), 256, 16 (the smallest the Numba kernels take without splitting), 4, 1.
BOUND_PRIMES = [DEFAULT_PRIME, 268435399, 1073741789, 2**31 - 1, 4294967291]
HYPO = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def exact(A, B, p):
    """Python-integer reference: object arrays multiply and add without overflow."""
    A = np.asarray(A).astype(object)
    B = np.asarray(B).astype(object)
    if A.shape[1] == 0:
        return np.zeros((A.shape[0], B.shape[1]), dtype=np.int64)
    return (A.dot(B) % p).astype(np.int64)


def randint(rng, p, shape, dtype=np.int64):
    return rng.integers(0, p, size=shape, dtype=np.int64).astype(dtype)


def _run(backend, to_backend, fn, *arrays, p, **kw):
    to_dev, to_host = to_backend
    out = fn(*(to_dev(a) for a in arrays), p, backend=backend, **kw)
    out = to_host(out)
    assert out.dtype == np.int64
    return out


def check_all(backend, to_backend, A, B, p):
    """modmatmul, modcombine, modmatvec (both ways) on the backend equal the reference."""
    want = ref.matmul(np.asarray(A), np.asarray(B), p)
    assert np.array_equal(_run(backend, to_backend, pp.modmatmul, A, B, p=p), want)
    assert np.array_equal(_run(backend, to_backend, pp.modcombine, A, B, p=p), want)
    if B.shape[1] >= 1:
        x = B[:, 0]
        assert np.array_equal(_run(backend, to_backend, pp.modmatvec, A, x, p=p), want[:, 0])
    if A.shape[0] >= 1:
        y = A[0]
        got = _run(backend, to_backend, pp.modmatvec, B, y, p=p, transpose=True)
        assert np.array_equal(got, want[0])
    return want


# -- the reference against Python integers ---------------------------------------------------

@pytest.mark.parametrize("p", PRIMES)
@given(n=st.integers(0, 6), k=st.integers(0, 12), m=st.integers(0, 6), seed=st.integers(0, 2**32))
@settings(max_examples=20, deadline=None)
def test_reference_matches_python_integers(p, n, k, m, seed):
    rng = np.random.default_rng(seed)
    A, B = randint(rng, p, (n, k)), randint(rng, p, (k, m))
    assert np.array_equal(ref.matmul(A, B, p), exact(A, B, p))
    assert np.array_equal(ref.combine(A, B, p), exact(A, B, p))
    x, y = randint(rng, p, k), randint(rng, p, n)
    assert np.array_equal(ref.matvec(A, x, p), exact(A, x[:, None], p)[:, 0])
    assert np.array_equal(ref.matvec_t(A, y, p), exact(y[None, :], A, p)[0])


@pytest.mark.parametrize("p", BOUND_PRIMES)
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_reference_at_reduction_bound(p, delta):
    """k = max_delayed_terms(p) - 1, itself, + 1 with every entry p - 1: the worst partial sums."""
    k = max(max_delayed_terms(p) + delta, 1)
    A = np.full((2, k), p - 1, dtype=np.int64)
    B = np.full((k, 3), p - 1, dtype=np.int64)
    want = np.full((2, 3), (k * (p - 1) ** 2) % p, dtype=np.int64)
    assert np.array_equal(exact(A, B, p), want)
    assert np.array_equal(ref.matmul(A, B, p), want)


# -- every backend against the reference -----------------------------------------------------

@pytest.mark.parametrize("p", PRIMES)
def test_backend_random(backend, to_backend, p):
    @given(n=st.integers(1, 13), k=st.integers(1, 40), m=st.integers(1, 13),
           seed=st.integers(0, 2**32))
    @HYPO
    def inner(n, k, m, seed):
        rng = np.random.default_rng(seed)
        check_all(backend, to_backend, randint(rng, p, (n, k)), randint(rng, p, (k, m)), p)

    inner()


@pytest.mark.parametrize("p", BOUND_PRIMES)
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_backend_at_reduction_bound(backend, to_backend, p, delta):
    """Inner length at the delayed-reduction bound - 1, =, + 1, entries all p - 1 and random;
    n = 9 and m = 7 cover the 4x4 tiles and their ragged edges."""
    k = max(max_delayed_terms(p) + delta, 1)
    A = np.full((9, k), p - 1, dtype=np.int64)
    B = np.full((k, 7), p - 1, dtype=np.int64)
    want = np.full((9, 7), (k * (p - 1) ** 2) % p, dtype=np.int64)
    assert np.array_equal(check_all(backend, to_backend, A, B, p), want)
    rng = np.random.default_rng(k)
    A, B = randint(rng, p, (9, k)), randint(rng, p, (k, 7))
    assert np.array_equal(check_all(backend, to_backend, A, B, p), exact(A, B, p))


@pytest.mark.parametrize("p", [97, DEFAULT_PRIME, 4294967291])
def test_backend_long_inner_products(backend, to_backend, p, rng):
    """k spanning several cache blocks and reduction blocks, with ragged tiles."""
    A, B = randint(rng, p, (37, 1100)), randint(rng, p, (1100, 21))
    assert np.array_equal(check_all(backend, to_backend, A, B, p), exact(A, B, p))


@pytest.mark.parametrize("p", [97, 4294967291])
def test_backend_edges(backend, to_backend, p, rng):
    # zeros, all entries p - 1, 1 x 1
    check_all(backend, to_backend, np.zeros((5, 6), np.int64), randint(rng, p, (6, 3)), p)
    check_all(backend, to_backend, np.full((6, 5), p - 1), np.full((5, 4), p - 1), p)
    one = check_all(backend, to_backend, np.array([[p - 1]]), np.array([[p - 1]]), p)
    assert one.tolist() == [[1]]
    # empty operands: results of the right shape, zeros where the inner length is 0
    for n, k, m in [(0, 3, 2), (3, 0, 2), (3, 2, 0), (0, 0, 0)]:
        got = _run(backend, to_backend, pp.modmatmul, np.zeros((n, k), np.int64),
                   np.zeros((k, m), np.int64), p=p)
        assert got.shape == (n, m) and not got.any()
        got = _run(backend, to_backend, pp.modcombine, np.zeros((n, k), np.int64),
                   np.zeros((k, m), np.int64), p=p)
        assert got.shape == (n, m) and not got.any()
        got = _run(backend, to_backend, pp.modmatvec, np.zeros((n, k), np.int64),
                   np.zeros(k, np.int64), p=p)
        assert got.shape == (n,) and not got.any()
        got = _run(backend, to_backend, pp.modmatvec, np.zeros((n, k), np.int64),
                   np.zeros(n, np.int64), p=p, transpose=True)
        assert got.shape == (k,) and not got.any()


def test_backend_views(backend, to_backend, rng):
    """Non-contiguous, transposed and Fortran-ordered views give the same bits as copies."""
    p = DEFAULT_PRIME
    big_a, big_b = randint(rng, p, (20, 30)), randint(rng, p, (30, 40))
    A, B = big_a[::2, 1::3], big_b[1::3, ::4]  # (10, 10) and (10, 10), strided
    assert not A.flags.c_contiguous and not B.flags.c_contiguous
    want = exact(A, B, p)
    assert np.array_equal(check_all(backend, to_backend, A, B, p), want)
    assert np.array_equal(check_all(backend, to_backend, B.T, A.T, p), want.T)
    assert np.array_equal(check_all(backend, to_backend, np.asfortranarray(A), B, p), want)
    x = big_a[0, ::3]  # strided vector
    got = _run(backend, to_backend, pp.modmatvec, B, x, p=p)
    assert np.array_equal(got, exact(B, x[:, None], p)[:, 0])


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_backend_every_integer_dtype(backend, to_backend, dtype, rng):
    info = np.iinfo(dtype)
    p = pp.prev_prime(min(info.max, 2**32 - 1) + 1)  # the largest prime the dtype can hold
    A, B = randint(rng, p, (6, 9), dtype), randint(rng, p, (9, 5), dtype)
    A[0] = p - 1
    assert np.array_equal(check_all(backend, to_backend, A, B, p), exact(A, B, p))


def test_plain_int_and_field_agree(backend, to_backend, rng):
    A, B = randint(rng, 97, (4, 5)), randint(rng, 97, (5, 3))
    F = pp.PrimeField(97)
    to_dev, to_host = to_backend
    assert np.array_equal(to_host(pp.modmatmul(to_dev(A), to_dev(B), F, backend=backend)),
                          to_host(pp.modmatmul(to_dev(A), to_dev(B), 97, backend=backend)))


@pytest.mark.parametrize("p", PRIMES + [5, 2**13 - 1])
def test_numba_division_free_reduction(p, rng):
    """The float-quotient reduction of the Numba kernels against Python's % on extreme uint64."""
    from pyprivml.backends.numba_backend import _mod

    acc = np.concatenate([rng.integers(0, 2**64, 2000, dtype=np.uint64),
                          np.array([0, 1, p - 1, p, p + 1, 2**53, 2**53 + 1, 2**63, 2**64 - 1,
                                    2**64 - p, (2**64 - 1) // p * p], dtype=np.uint64)])
    got = [_mod(a, np.int64(p), 1.0 / p) for a in acc]
    assert got == [int(a) % p for a in acc]


def test_numba_same_bits_for_every_thread_count(rng):
    p = DEFAULT_PRIME
    A, B = randint(rng, p, (70, 300)), randint(rng, p, (300, 90))
    X = randint(rng, p, (7, 70000))
    before = threads.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            threads.set_num_threads(n)
            results.append((pp.modmatmul(A, B, p, backend="numba"),
                            pp.modcombine(A[:5, :7], X, p, backend="numba"),
                            pp.modmatvec(A, B[:, 0], p, backend="numba")))
    finally:
        threads.set_num_threads(before)
    for got, want in zip(results[0], results[1]):
        assert np.array_equal(got, want)
    assert np.array_equal(results[0][0], exact(A, B, p))


# -- bad input ---------------------------------------------------------------------------------

def test_non_prime_modulus_names_neighbours():
    A = np.eye(2, dtype=np.int64)
    with pytest.raises(ValueError, match="91 is not prime.*89 below and 97 above"):
        pp.modmatmul(A, A, 91)


def test_float_arrays_are_refused(backend, to_backend):
    to_dev, _ = to_backend
    A = to_dev(np.eye(2))
    I = to_dev(np.eye(2, dtype=np.int64))
    with pytest.raises(TypeError, match="dtype float64.*integer arrays"):
        pp.modmatmul(A, I, 97, backend=backend)
    with pytest.raises(TypeError, match="integer arrays"):
        pp.modcombine(I, A, 97, backend=backend)
    with pytest.raises(TypeError, match="integer arrays"):
        pp.modmatvec(I, to_dev(np.ones(2)), 97, backend=backend)


@pytest.mark.parametrize("fn, a, b, msg", [
    (pp.modmatmul, (2, 3), (2, 3), "A's columns must equal B's rows"),
    (pp.modmatmul, (2, 3), (3,), "B must be 2-D"),
    (pp.modcombine, (2, 3), (4, 5), "one column per row of X"),
    (pp.modmatvec, (2, 3), (2,), "one entry per columns of A \\(3\\)"),
    (pp.modmatvec, (2, 3), (2, 1), "x must be 1-D"),
])
def test_mismatched_shapes(fn, a, b, msg):
    with pytest.raises(ValueError, match=msg):
        fn(np.zeros(a, np.int64), np.zeros(b, np.int64), 97)


def test_transposed_matvec_length_message():
    with pytest.raises(ValueError, match="one entry per rows of A \\(2\\)"):
        pp.modmatvec(np.zeros((2, 3), np.int64), np.zeros(3, np.int64), 97, transpose=True)


@pytest.mark.parametrize("bad", [97, 1000, -1])
def test_entries_outside_the_field(bad):
    A = np.array([[1, bad], [0, 1]])
    with pytest.raises(ValueError, match="outside the field \\[0, 97\\)"):
        pp.modmatmul(A, np.eye(2, dtype=np.int64), 97)
    with pytest.raises(ValueError, match="outside the field"):
        pp.modcombine(np.eye(2, dtype=np.int64), A, 97)
    with pytest.raises(ValueError, match="outside the field"):
        pp.modmatvec(np.eye(2, dtype=np.int64), A[0], 97)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        pp.modmatmul(np.eye(2, dtype=np.int64), np.eye(2, dtype=np.int64), 97, backend="fortran")


def test_thread_settings(monkeypatch):
    monkeypatch.setenv(threads.ENV_VAR, "1")
    assert threads.default_num_threads() == 1
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv(threads.ENV_VAR, bad)
        with pytest.raises(ValueError, match="PYPRIVML_NUM_THREADS must be a positive integer"):
            threads.default_num_threads()
    with pytest.raises(ValueError, match="positive integer"):
        threads.set_num_threads(0)
    with threads.limit_blas_threads(1):
        from threadpoolctl import threadpool_info

        assert all(lib["num_threads"] == 1 for lib in threadpool_info() if lib["user_api"] == "blas")


def test_numba_launches_serialise_under_the_workqueue_layer(monkeypatch):
    """Under Numba's fallback layer concurrent launches would abort: they must take the lock."""
    import threading

    from pyprivml.backends import numba_backend

    monkeypatch.setattr(numba_backend, "_layer_is_threadsafe", False)
    held = []
    real_launch = numba_backend._launch

    def spy(kernel, *args, work):
        held.append(numba_backend._LAUNCH_LOCK.locked())
        return real_launch(kernel, *args, work=work)

    monkeypatch.setattr(numba_backend, "_launch", spy)
    p = 10007
    A = np.arange(64 * 64, dtype=np.int64).reshape(64, 64) % p
    want = pp.modmatmul(A, A, p, backend="numpy")
    results = []
    workers = [threading.Thread(target=lambda: results.append(pp.modmatmul(A, A, p, backend="numba")))
               for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert held and all(held)
    assert len(results) == 4 and all(np.array_equal(r, want) for r in results)


@pytest.mark.parametrize("p", [DEFAULT_PRIME, 4294967291])
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_few_column_products_match_the_reference(backend, to_backend, p, m):
    """X w for r stochastic copies of w (the workers' hot path) takes its own route on some backends."""
    rng = np.random.default_rng(m)
    A = rng.integers(0, p, (37, max_delayed_terms(p) + 5), dtype=np.int64)
    B = rng.integers(0, p, (A.shape[1], m), dtype=np.int64)
    to, back = to_backend
    got = back(pp.modmatmul(to(A), to(B), p, backend=backend))
    assert np.array_equal(got, ref.matmul(A, B, p))


@pytest.mark.parametrize("p", [2, 251, 65521, 2**21 - 9, 2**25 - 39, 67108879, 2**31 - 1, 2**32 - 5])
def test_blas_route_is_exact_across_its_exact_blocks_and_limbs(p):
    """The float64 BLAS route (centred limbs, exact blocks) against the uint64 reference, with
    inner dimensions that straddle its block length and the extreme residues on the edges."""
    from pyprivml.backends import blas_backend, numpy_backend

    rng = np.random.default_rng(p % 1000)
    _, _, block = blas_backend.plan(p, 10**9)
    for k in sorted({1, min(block, 5000), min(block, 5000) + 1, 4097}):
        A = rng.integers(0, p, (5, k))
        B = rng.integers(0, p, (k, 3))
        A[0], B[:, 0] = p - 1, p - 1                                  # the largest products
        A[1], B[:, 1] = (p - 1) // 2 + 1, (p - 1) // 2                # the centring boundary
        got = blas_backend.matmul(A, B, p)
        assert np.array_equal(got, numpy_backend.matmul(A, B, p)), (p, k)
    small_A, small_B = A[:2, :4].tolist(), B[:4, :2].tolist()
    want = [[sum(a * b for a, b in zip(row, col)) % p for col in zip(*small_B)] for row in small_A]
    assert blas_backend.matmul(np.array(small_A), np.array(small_B), p).tolist() == want
