"""Shared benchmark settings: sizes from environment variables, and a ratio table at the end.

Environment variables:

``PYPRIVML_BENCH_QUICK=1``
    small sizes everywhere (a smoke run of a few seconds).
``PYPRIVML_BENCH_SIZES``
    comma-separated n for the modmatmul comparisons (default ``512,1024,2048,4096``).
``PYPRIVML_BENCH_PRIME_SIZES``
    comma-separated n for the modmatmul comparisons per prime size (default ``1024,2048``).
``PYPRIVML_BENCH_NPMOD_MAX`` / ``PYPRIVML_BENCH_GALOIS_MAX``
    largest n at which the slow baselines ``np.mod(A @ B, p)`` and galois ``GF(p)`` matmul run
    (defaults 1024 and 1024; larger n are extrapolated as n**3 in docs/BENCHMARKS.md).
``PYPRIVML_BENCH_ENCODE_L``, ``PYPRIVML_BENCH_QUANT_N``
    the long side of the encoding shape U(50 x 20) X(20 x L) and the stochastic-quantisation size.
``PYPRIVML_NUM_THREADS``
    threads for the Numba kernels and for BLAS alike (default: all cores), so that compiled
    kernels and their BLAS baselines always run with the same number of threads.

Each test marks its baseline with ``benchmark.extra_info["baseline"] = True``; at the end of the
run a table lists every median and its ratio against the baseline of its group (``baseline /
median``: above 1 is faster than the baseline), measured in the same run.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

QUICK = os.environ.get("PYPRIVML_BENCH_QUICK") == "1"


def env_ints(name, default):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [int(v) for v in value.split(",") if v.strip()]


MATMUL_SIZES = env_ints("PYPRIVML_BENCH_SIZES", [64, 128] if QUICK else [512, 1024, 2048, 4096])
PRIME_SIZES = env_ints("PYPRIVML_BENCH_PRIME_SIZES", [64] if QUICK else [1024, 2048])
NPMOD_MAX = env_ints("PYPRIVML_BENCH_NPMOD_MAX", [128 if QUICK else 1024])[0]
GALOIS_MAX = env_ints("PYPRIVML_BENCH_GALOIS_MAX", [128 if QUICK else 1024])[0]
ENCODE_L = env_ints("PYPRIVML_BENCH_ENCODE_L", [20_000 if QUICK else 1_730_000])[0]
QUANT_N = env_ints("PYPRIVML_BENCH_QUANT_N", [100_000 if QUICK else 10_000_000])[0]
MATVEC_SHAPE = (564, 3073)  # CIFAR-10 features x model size of seed 004's experiments


def pytest_sessionstart(session):
    from pyprivml import threads

    threads.set_num_threads()  # Numba and BLAS both to PYPRIVML_NUM_THREADS (or every core)


def pytest_generate_tests(metafunc):
    if "matmul_n" in metafunc.fixturenames:
        metafunc.parametrize("matmul_n", MATMUL_SIZES, ids=lambda n: f"n{n}", scope="module")
    if "prime_n" in metafunc.fixturenames:
        metafunc.parametrize("prime_n", PRIME_SIZES, ids=lambda n: f"n{n}", scope="module")


@pytest.fixture(scope="session")
def sizes():
    return SimpleNamespace(npmod_max=NPMOD_MAX, galois_max=GALOIS_MAX, encode_l=ENCODE_L,
                           quant_n=QUANT_N, matvec_shape=MATVEC_SHAPE)


def _run(benchmark, fn, *, rounds, warmup=1, baseline=False, **info):
    """Time `fn` in pedantic mode (fixed rounds, one call each) and record what it is."""
    benchmark.extra_info.update(info, baseline=baseline)
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=warmup)


@pytest.fixture(scope="session")
def timed():
    """``timed(benchmark, fn, rounds=..., warmup=1, baseline=False, **extra_info)``."""
    return _run


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or "", []).append(bench)
    from pyprivml import threads

    lines = ["", f"threads (Numba and BLAS): {threads.get_num_threads()}",
             "ratios against each group's baseline (baseline median / median; > 1 is faster):",
             "| group | benchmark | median (s) | vs baseline |", "| --- | --- | ---: | ---: |"]
    for group, benches in groups.items():
        base = [b for b in benches if b.extra_info.get("baseline")]
        base_median = base[0].stats.median if base else None
        for b in benches:
            ratio = f"{base_median / b.stats.median:.3g}x" if base_median else "-"
            lines.append(f"| {group} | {b.name} | {b.stats.median:.4g} | {ratio} |")
    terminalreporter.write_line("\n".join(lines))
