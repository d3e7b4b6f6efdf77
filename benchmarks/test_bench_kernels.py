"""Foundation kernels (issue 2) against NumPy, galois and BLAS, measured in one run.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_kernels.py --benchmark-only``
(``PYPRIVML_BENCH_QUICK=1`` for a smoke run; other size knobs in benchmarks/conftest.py).

Groups and their baselines:

* ``modmatmul-n{n}``: pyprivml.modmatmul per backend on uint32 storage, against float64 ``A @ B``
  (OpenBLAS, the BLAS ceiling for the same shape), with ``np.mod(A @ B, p)`` on int64 and galois
  ``GF(p)`` matmul as the slow baselines (run up to the sizes in conftest.py).
* ``encode``: the Lagrange-encoding shape U(50 x 20) X(20 x L) (pyprivml.modcombine) against the
  memory floor: reading X's bytes once (``X.max()``) plus writing the output's bytes once
  (``out.fill(0)`` into a preallocated int64 array). A second, informative floor allocates the
  output fresh, as any function returning a new array must.
* ``modmatmul-{b}bit-n{n}``: every route at a prime of each size class the int8 limbs tell apart
  (p = 251, 65521, 2**25 - 39, 2**31 - 1, 2**32 - 5) against float64 ``A @ B``, with FLINT's
  ``nmod_mat`` (python-flint, on as many threads as the kernels) beside them, at the n of
  ``PYPRIVML_BENCH_PRIME_SIZES``.
* ``matvec``: A(564 x 3073) x mod p with A in uint32 against float64 ``A @ x`` (dgemv).
* ``quantize-stochastic``: Round_stoc of N float64 values against ``np.copyto`` of the same array
  into a preallocated one (and, informatively, into a fresh one).

Kernels run with ``check=False`` (no range pass over trusted inputs) and a PrimeField built once,
as protocols call them.
"""

from __future__ import annotations

import numpy as np
import pytest
import pyprivml as pp

P = pp.DEFAULT_PRIME
F = pp.PrimeField(P)  # built once: a plain int p is re-checked for primality on every call
FAST = [b for b in ("numba", "cython") if b in pp.available_backends()]
#: Every exact CPU route this machine has for the matrix products (int8 needs VNNI or AMX).
ROUTES = FAST + [b for b in ("blas", "int8") if b in pp.available_backends()]


def _rounds(n):
    return 3 if n >= 2048 else 5


# -- modmatmul ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def square(matmul_n):
    n = matmul_n
    rng = np.random.default_rng(n)
    A = rng.integers(0, P, (n, n), dtype=np.int64)
    B = rng.integers(0, P, (n, n), dtype=np.int64)
    return n, A, B


@pytest.mark.parametrize("backend", ROUTES)
def test_modmatmul(benchmark, timed, square, backend):
    n, A, B = square
    A32, B32 = A.astype(np.uint32), B.astype(np.uint32)
    benchmark.group = f"modmatmul-n{n}"
    out = timed(benchmark, lambda: pp.modmatmul(A32, B32, F, backend=backend, check=False),
              rounds=_rounds(n), n=n, backend=backend)
    assert np.array_equal(out[:2], np.mod(A[:2] @ B, P))  # exact (k (p-1)**2 < 2**63 here)


def test_modmatmul_portable_c_tiles(benchmark, timed, square):
    """The C kernels with their IFMA tiles switched off: what the IFMA tiles gain."""
    native = pytest.importorskip("pyprivml._native")
    if not native.ifma_route():
        pytest.skip("no AVX-512 IFMA here: the C kernels run their portable tiles anyway")
    n, A, B = square
    A32, B32 = A.astype(np.uint32), B.astype(np.uint32)
    benchmark.group = f"modmatmul-n{n}"
    native.ifma_route(False)
    try:
        timed(benchmark, lambda: pp.modmatmul(A32, B32, F, backend="cython", check=False),
              rounds=_rounds(n), n=n, backend="cython, portable tiles")
    finally:
        native.ifma_route(True)


def test_modmatmul_numpy_reference_backend(benchmark, timed, sizes, square):
    n, A, B = square
    if n > sizes.npmod_max:
        pytest.skip(f"NumPy's integer matmul at n = {n} takes minutes; extrapolate as n**3")
    benchmark.group = f"modmatmul-n{n}"
    timed(benchmark, lambda: pp.modmatmul(A, B, F, backend="numpy", check=False),
        rounds=1, warmup=0, n=n, backend="numpy")


def test_float64_blas(benchmark, timed, square):
    n, A, B = square
    Af, Bf = A.astype(np.float64), B.astype(np.float64)
    benchmark.group = f"modmatmul-n{n}"
    timed(benchmark, lambda: Af @ Bf, rounds=_rounds(n), baseline=True, n=n, backend="float64 BLAS")


def test_npmod_int64(benchmark, timed, sizes, square):
    n, A, B = square
    if n > sizes.npmod_max:
        pytest.skip(f"np.mod(A @ B, p) at n = {n} takes minutes; extrapolate as n**3")
    benchmark.group = f"modmatmul-n{n}"
    timed(benchmark, lambda: np.mod(A @ B, P), rounds=1, warmup=0, n=n, backend="np.mod int64")


def test_galois(benchmark, timed, sizes, square):
    galois = pytest.importorskip("galois")
    n, A, B = square
    if n > sizes.galois_max:
        pytest.skip(f"galois GF(p) matmul at n = {n} takes minutes; extrapolate as n**3")
    GF = galois.GF(P)
    gA, gB = GF(A), GF(B)
    benchmark.group = f"modmatmul-n{n}"
    timed(benchmark, lambda: gA @ gB, rounds=1, warmup=1, n=n, backend="galois GF(p)")


# -- modmatmul per prime size -------------------------------------------------------------------

SMALL_PRIMES = (251, 65521, 2**25 - 39, 2**31 - 1, 2**32 - 5)


@pytest.fixture(scope="module", params=SMALL_PRIMES, ids=lambda p: f"{p.bit_length()}bit")
def per_prime(request, prime_n):
    p, n = request.param, prime_n
    rng = np.random.default_rng(p % 1000 + n)
    A = rng.integers(0, p, (n, n), dtype=np.int64).astype(np.uint32)
    B = rng.integers(0, p, (n, n), dtype=np.int64).astype(np.uint32)
    return pp.PrimeField(p), n, A, B


def _group(F, n):
    return f"modmatmul-{F.p.bit_length()}bit-n{n}"


@pytest.mark.parametrize("backend", ROUTES)
def test_modmatmul_per_prime(benchmark, timed, per_prime, backend):
    F, n, A, B = per_prime
    benchmark.group = _group(F, n)
    out = timed(benchmark, lambda: pp.modmatmul(A, B, F, backend=backend, check=False),
                rounds=_rounds(n), n=n, p=F.p, backend=backend)
    assert np.array_equal(out[:2], pp.modmatmul(A[:2], B, F, backend="numpy"))


def test_float64_blas_per_prime(benchmark, timed, per_prime):
    F, n, A, B = per_prime
    Af, Bf = A.astype(np.float64), B.astype(np.float64)
    benchmark.group = _group(F, n)
    timed(benchmark, lambda: Af @ Bf, rounds=_rounds(n), baseline=True, n=n, p=F.p, backend="float64 BLAS")


def test_flint_nmod_mat_per_prime(benchmark, timed, per_prime):
    flint = pytest.importorskip("flint")
    from pyprivml import threads

    F, n, A, B = per_prime
    flint.ctx.threads = threads.get_num_threads()
    fA, fB = flint.nmod_mat(A.tolist(), F.p), flint.nmod_mat(B.tolist(), F.p)
    benchmark.group = _group(F, n)
    out = timed(benchmark, lambda: fA * fB, rounds=1 if n >= 2048 else 3, n=n, p=F.p,
                backend="FLINT nmod_mat")
    assert np.array_equal(np.array(out.tolist()[:2], dtype=np.int64),
                          pp.modmatmul(A[:2], B, F, backend="numpy"))


# -- encoding shape ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encode_operands(sizes):
    rng = np.random.default_rng(7)
    U = rng.integers(0, P, (50, 20), dtype=np.int64)
    X = rng.integers(0, P, (20, sizes.encode_l), dtype=np.int64).astype(np.uint32)
    return U, X


@pytest.mark.parametrize("backend", FAST)
def test_encode(benchmark, timed, encode_operands, backend):
    U, X = encode_operands
    benchmark.group = "encode"
    out = timed(benchmark, lambda: pp.modcombine(U, X, F, backend=backend, check=False), rounds=5,
              backend=backend, shape=f"(50x20)(20x{X.shape[1]})")
    assert np.array_equal(out[:, :100], pp.modcombine(U, X[:, :100], P, backend="numpy"))


def test_encode_memory_floor(benchmark, timed, encode_operands):
    _, X = encode_operands
    out = np.empty((50, X.shape[1]), dtype=np.int64)
    out.fill(1)  # fault the pages in before timing

    def floor():
        X.max()  # read X's bytes once
        out.fill(0)  # write the output's bytes once

    benchmark.group = "encode"
    timed(benchmark, floor, rounds=5, baseline=True, backend="memory floor (read X, write out)")


def test_encode_memory_floor_fresh_output(benchmark, timed, encode_operands):
    _, X = encode_operands

    def floor():
        X.max()
        np.empty((50, X.shape[1]), dtype=np.int64).fill(0)

    benchmark.group = "encode"
    timed(benchmark, floor, rounds=5, backend="memory floor, fresh output")


# -- matvec ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def matvec_operands(sizes):
    rng = np.random.default_rng(11)
    A = rng.integers(0, P, sizes.matvec_shape, dtype=np.int64)
    x = rng.integers(0, P, sizes.matvec_shape[1], dtype=np.int64)
    return A, x


@pytest.mark.parametrize("backend", FAST)
def test_matvec(benchmark, timed, matvec_operands, backend):
    A, x = matvec_operands
    A32 = A.astype(np.uint32)
    benchmark.group = "matvec"
    out = timed(benchmark, lambda: pp.modmatvec(A32, x, F, backend=backend, check=False), rounds=200,
              backend=backend, storage="uint32")
    assert np.array_equal(out, pp.modmatvec(A, x, P, backend="numpy"))


def test_matvec_dgemv(benchmark, timed, matvec_operands):
    A, x = matvec_operands
    Af, xf = A.astype(np.float64), x.astype(np.float64)
    benchmark.group = "matvec"
    timed(benchmark, lambda: Af @ xf, rounds=200, baseline=True, backend="float64 dgemv")


# -- stochastic quantisation -------------------------------------------------------------------

@pytest.fixture(scope="module")
def weights(sizes):
    return np.random.default_rng(13).normal(size=sizes.quant_n)


@pytest.mark.parametrize("backend", FAST)
def test_quantize_stochastic(benchmark, timed, weights, backend):
    benchmark.group = "quantize-stochastic"
    out = timed(benchmark, lambda: pp.quantize_stochastic(weights, 16, F, seed=1, backend=backend),
              rounds=10, backend=backend, n=weights.size)
    assert np.array_equal(out[:1000], pp.quantize_stochastic(weights[:1000], 16, F, seed=1,
                                                             backend="numpy"))


def test_copyto(benchmark, timed, weights):
    dst = np.empty_like(weights)
    dst.fill(1)
    benchmark.group = "quantize-stochastic"
    timed(benchmark, lambda: np.copyto(dst, weights), rounds=10, baseline=True,
        backend="np.copyto (preallocated)")


def test_copyto_fresh(benchmark, timed, weights):
    benchmark.group = "quantize-stochastic"
    timed(benchmark, lambda: np.copyto(np.empty_like(weights), weights), rounds=10,
        backend="np.copyto (fresh output)")
