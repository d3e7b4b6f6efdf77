"""Sketching operators and DP gradient kernels (issue 3) against simple baselines.

Run:  .venv/bin/python -m pytest benchmarks/test_bench_sketch_dp.py --benchmark-only \
          --benchmark-columns=median,iqr,rounds
Quick mode (CI, small sizes): PYPRIVML_BENCH_QUICK=1.

* sketch: ``sk`` and ``desk`` of every family of seed 002 (Defs. 18-23) on one vector of
  d = 2**20 float64 (quick: 2**16). Hashed sketches and the SRHT use b = 2**10; the dense
  Gaussian and AMS families, which touch b x d entries, use b = 64 (quick: 16).
* floor: ``np.copyto`` of the same d float64 values, the memory-bandwidth floor that
  count-sketch (which reads the vector once, plus 5 bytes of hashes per entry) should approach.
* clip: Algorithm 2 of seed 001 (clip each of B per-sample gradients to norm C, sum, add
  Gaussian noise, divide by B) with ``pyprivml.dp.ClippedGaussian`` on NumPy (fused Numba
  kernel) and on torch tensors, against a plain torch loop (for each sample: norm, scale,
  accumulate; then add noise), B = 64 and P = 2**16 parameters (quick: 32 x 2**14).
  torch runs with one intra-op thread, like the serial Numba kernel.
"""

import os

import numpy as np
import pytest

from pyprivml import dp, sketch

QUICK = os.environ.get("PYPRIVML_BENCH_QUICK", "") not in ("", "0")
D = 2**16 if QUICK else 2**20
B_HASHED = 2**10
B_DENSE = 16 if QUICK else 64
BATCH, PARAMS = (32, 2**14) if QUICK else (64, 2**16)
SKETCH_KINDS = list(sketch.SKETCH_KINDS)


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    """Every contender runs on one core (the Numba kernels are serial): on a shared machine
    torch's intra-op threads otherwise spin against other processes and time the contention."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _b(kind):
    return B_DENSE if kind in ("gaussian", "ams") else B_HASHED


@pytest.fixture(scope="module")
def vec():
    return np.random.default_rng(0).standard_normal(D)


@pytest.mark.parametrize("kind", SKETCH_KINDS)
def test_sk(benchmark, kind, vec):
    benchmark.group = f"sketch sk, d={D}"
    S = sketch.make(kind, _b(kind), D, seed=1)
    S.sk(vec)  # compile / warm caches
    out = benchmark(S.sk, vec)
    assert out.shape == (_b(kind),)


@pytest.mark.parametrize("kind", SKETCH_KINDS)
def test_desk(benchmark, kind, vec):
    benchmark.group = f"sketch desk, d={D}"
    S = sketch.make(kind, _b(kind), D, seed=1)
    y = S.sk(vec)
    S.desk(y)
    out = benchmark(S.desk, y)
    assert out.shape == (D,)


def test_copy_floor(benchmark, vec):
    """Bandwidth floor: copy d float64 (read 8d bytes, write 8d bytes)."""
    benchmark.group = f"sketch sk, d={D}"
    dst = np.empty_like(vec)
    benchmark(np.copyto, dst, vec)


def test_read_floor(benchmark, vec):
    """Bandwidth floor for a pure read of d float64 (a sum)."""
    benchmark.group = f"sketch sk, d={D}"
    benchmark(np.add.reduce, vec)


@pytest.fixture(scope="module")
def grads():
    return np.random.default_rng(1).standard_normal((BATCH, PARAMS))


def test_clip_numpy(benchmark, grads):
    benchmark.group = f"clip+noise, {BATCH}x{PARAMS}"
    mech = dp.ClippedGaussian(1.0, 0.5, 1e-5, seed=0)
    mech(grads)
    benchmark(mech, grads)


def test_clip_torch(benchmark, grads):
    torch = pytest.importorskip("torch")
    benchmark.group = f"clip+noise, {BATCH}x{PARAMS}"
    G = torch.tensor(grads)
    mech = dp.ClippedGaussian(1.0, 0.5, 1e-5, seed=0)
    mech(G)
    benchmark(mech, G)


def test_clip_torch_loop(benchmark, grads):
    """The plain per-sample torch loop of typical research code."""
    torch = pytest.importorskip("torch")
    benchmark.group = f"clip+noise, {BATCH}x{PARAMS}"
    G = torch.tensor(grads)
    C = 1.0
    sigma = dp.gaussian_sigma(0.5, 1e-5, C)
    gen = torch.Generator().manual_seed(0)

    def loop(noise=True):
        acc = torch.zeros(G.shape[1], dtype=G.dtype)
        for g in G:
            acc += g / max(1.0, float(torch.linalg.vector_norm(g)) / C)
        if noise:
            acc += sigma * torch.randn(G.shape[1], generator=gen, dtype=G.dtype)
        return acc / G.shape[0]

    benchmark(loop)
    # the baseline computes the same clipped mean as the kernel
    ref = dp.ClippedGaussian(C, 0.5, 1e-5)(G, noise=False)
    assert torch.allclose(loop(noise=False), ref, rtol=1e-10, atol=1e-12)


def test_clip_secure_noise(benchmark, grads):
    benchmark.group = f"clip+noise, {BATCH}x{PARAMS}"
    mech = dp.ClippedGaussian(1.0, 0.5, 1e-5, secure=True)
    benchmark(mech, grads)
