"""Lagrange coding kernels (issue 3) against the straightforward NumPy loop of research code.

Run:  .venv/bin/python -m pytest benchmarks/test_bench_coding.py --benchmark-only \
          --benchmark-columns=median,iqr,rounds
Quick mode (CI, small sizes): PYPRIVML_BENCH_QUICK=1.

Parameters follow seed 004's logistic regression with r = 1 (deg f = 3): for N workers,
K + T = (N - 1) // 3 + 1 is the largest code the threshold 3 (K + T - 1) + 1 <= N allows, with
T = max(1, (K + T) // 4) masks. The dataset is m x d field elements (p = 2**25 - 39).

* encode: ``LagrangeCode.encode`` (fresh ChaCha20 masks + U @ blocks) on each CPU backend
  against the loop ``X~_i = np.mod(sum_j U[i, j] * B_j, p)`` with masks from NumPy's PCG64
  (what research code does; not secure). Both are exact at these sizes: (K + T) (p - 1)**2 < 2**63.
* decode: ``LagrangeCode.decode`` (cached matrix of eq. 21) against the same loop over the
  threshold results with the decoding matrix given.
* masks: ``SecureRandom.field_elements`` for the T mask blocks alone, to compare with encode.
* matrix: building U (N x (K + T)) by barycentric weights against the Python double product of eq. 10.
"""

import os

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.random import SecureRandom

QUICK = os.environ.get("PYPRIVML_BENCH_QUICK", "") not in ("", "0")
NS = (10, 25) if QUICK else (10, 25, 50, 100)
BACKENDS = [b for b in pp.available_backends() if b != "cupy"]
M, D = (1024, 32) if QUICK else (8192, 128)
RESULT_LEN = 4096 if QUICK else 65536
F = pp.PrimeField()
P = F.p


def params(N):
    KT = (N - 1) // 3 + 1
    T = max(1, KT // 4)
    return N, KT - T, T


def loop_encode(U, X, K, T, gen):
    """Research-code encoding: masks from np.random, then one weighted sum per worker."""
    rows = -(-X.shape[0] // K)
    Xpad = np.zeros((K * rows, X.shape[1]), dtype=X.dtype)
    Xpad[: X.shape[0]] = X
    blocks = list(Xpad.reshape(K, rows, -1)) + list(gen.integers(0, P, size=(T, rows, X.shape[1])))
    return np.stack([np.mod(sum(int(U[i, j]) * blocks[j] for j in range(K + T)), P) for i in range(U.shape[0])])


def loop_decode(Dm, results):
    return np.stack([np.mod(sum(int(Dm[k, i]) * r for i, r in enumerate(results)), P) for k in range(Dm.shape[0])])


def python_matrix(alphas, betas):
    """eq. 10 as written: u_ij = prod_{l != j} (alpha_i - beta_l) / (beta_j - beta_l), Python ints."""
    out = []
    for a in alphas:
        row = []
        for j, bj in enumerate(betas):
            num = den = 1
            for l, bl in enumerate(betas):
                if l != j:
                    num, den = num * (a - bl) % P, den * (bj - bl) % P
            row.append(num * pow(den, -1, P) % P)
        out.append(row)
    return np.array(out, dtype=np.int64)


@pytest.fixture(scope="module")
def data():
    g = np.random.default_rng(0)
    return g.integers(0, P, size=(M, D))


@pytest.mark.parametrize("N", NS)
@pytest.mark.parametrize("impl", BACKENDS + ["numpy-loop"])
def test_encode(benchmark, data, N, impl):
    N, K, T = params(N)
    code = pp.LagrangeCode(F, N, K, T)
    benchmark.group = f"lcc-encode N={N} K={K} T={T} m={M} d={D}"
    if impl != "numpy-loop":
        rng = SecureRandom()
        code.encode(data, rng, backend=impl)  # warm-up (JIT compilation)
        out = benchmark(code.encode, data, rng, backend=impl)
    else:
        gen = np.random.default_rng(1)
        out = benchmark(loop_encode, code.encoding_matrix, data, K, T, gen)
    assert out.shape == (N, code.block_rows(M), D)
    # Same code, same masks -> same blocks: the loop is a valid baseline at these sizes.
    Xt = code.encode(data, rng=SecureRandom(seed=2))
    masks = SecureRandom(seed=2).field_elements(F, (T, code.block_rows(M) * D))
    blocks = list(np.concatenate([data.reshape(-1), np.zeros(K * masks.shape[1] - data.size, np.int64)]).reshape(K, -1))
    blocks += list(masks)
    ref = np.stack([np.mod(sum(int(code.encoding_matrix[0, j]) * blocks[j] for j in range(K + T)), P)])
    assert np.array_equal(Xt[0].reshape(1, -1), ref)


@pytest.mark.parametrize("N", NS)
@pytest.mark.parametrize("impl", BACKENDS + ["numpy-loop"])
def test_decode(benchmark, N, impl):
    N, K, T = params(N)
    code = pp.LagrangeCode(F, N, K, T)
    need = code.recovery_threshold(3)
    g = np.random.default_rng(3)
    workers = [int(i) for i in g.permutation(N)[:need]]
    results = {i: g.integers(0, P, size=RESULT_LEN) for i in workers}
    benchmark.group = f"lcc-decode N={N} K={K} T={T} results={need}x{RESULT_LEN}"
    if impl != "numpy-loop":
        code.decode(results, 3, backend=impl)
        out = benchmark(code.decode, results, 3, backend=impl)
    else:
        Dm = code.decoding_matrix(workers)
        out = benchmark(loop_decode, Dm, [results[i] for i in workers])
    assert np.array_equal(out, code.decode(results, 3))


@pytest.mark.parametrize("N", NS)
@pytest.mark.parametrize("impl", ["secure-masks", "pcg64-masks"] + [f"encode-{b}" for b in BACKENDS])
def test_masks_vs_encode(benchmark, data, N, impl):
    N, K, T = params(N)
    code = pp.LagrangeCode(F, N, K, T)
    shape = (T, code.block_rows(M) * D)
    benchmark.group = f"masks-vs-encode N={N} K={K} T={T} m={M} d={D}"
    if impl == "secure-masks":
        benchmark(SecureRandom().field_elements, F, shape)
    elif impl == "pcg64-masks":
        benchmark(np.random.default_rng(0).integers, 0, P, shape)
    else:
        backend = impl.split("-", 1)[1]
        code.encode(data, SecureRandom(), backend=backend)
        benchmark(code.encode, data, SecureRandom(), backend=backend)


@pytest.mark.parametrize("N", NS)
@pytest.mark.parametrize("impl", ["barycentric", "python-eq10"])
def test_encoding_matrix(benchmark, N, impl):
    N, K, T = params(N)
    benchmark.group = f"encoding-matrix N={N} K+T={K + T}"
    if impl == "barycentric":
        U = benchmark(lambda: pp.LagrangeCode(F, N, K, T).encoding_matrix)
    else:
        U = benchmark(python_matrix, range(K + T + 1, K + T + N + 1), range(1, K + T + 1))
    assert np.array_equal(U, pp.LagrangeCode(F, N, K, T).encoding_matrix)
