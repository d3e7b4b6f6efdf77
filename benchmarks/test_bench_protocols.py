"""Per-iteration cost of CodedPrivateML, BH08 and BGW in-process at equal N, m, d (seed 004 sec. V).

Run:  .venv/bin/python -m pytest benchmarks/test_bench_protocols.py --benchmark-only \
          --benchmark-columns=median,iqr,rounds --benchmark-group-by=param:N
Quick mode (small sizes): PYPRIVML_BENCH_QUICK=1.

Each benchmark times a whole training run (master and N worker threads of this process: setup,
then ITERS iterations of weight quantisation and encoding, the workers' local work — BGW/BH08
with their degree-reduction round —, the master's decoding and update), and records the median
seconds of one iteration, setup excluded, as ``iteration_median_s``. The workers share this
machine's cores, so the numbers compare the protocols' total work, not a cluster's wall time (for
that, see benchmarks/simulate_figure3.py).
"""

import os

import numpy as np
import pytest

from pyprivml.protocols.compare import run_protocol

QUICK = os.environ.get("PYPRIVML_BENCH_QUICK", "") not in ("", "0")
SHAPE = (600, 100) if QUICK else (3000, 500)
NS = (10,) if QUICK else (10, 22)
PROTOCOLS = ("codedprivateml-1", "codedprivateml-2", "bh08", "bgw")
ITERS = 6 if QUICK else 11


def _data():
    rng = np.random.default_rng(0)
    m, d = SHAPE
    X = rng.uniform(-0.05, 0.05, (m, d))   # small values: the wrap-around proof holds at p = 2^25 - 39
    return X, (rng.random(m) < 0.5).astype(float)


def _run(protocol, N, X, y):
    """One whole in-process training run of ``protocol``."""
    result, _ = run_protocol(protocol, X, y, None, None, n_workers=N, iters=ITERS, lr=1e-3, seed=0)
    return result


@pytest.mark.parametrize("N", NS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_training_run(benchmark, protocol, N):
    """A whole run of ITERS iterations (the timed quantity), with the median seconds of one
    iteration (setup excluded) in extra_info["iteration_median_s"]; BH08 is the baseline."""
    X, y = _data()
    benchmark.group = f"protocols N={N} m x d = {SHAPE[0]} x {SHAPE[1]}, {ITERS} iterations"
    benchmark.extra_info["baseline"] = protocol == "bh08"
    result = benchmark.pedantic(_run, args=(protocol, N, X, y), rounds=3, iterations=1, warmup_rounds=1)
    per_iter = np.diff(result.iteration_ends)
    benchmark.extra_info["iteration_median_s"] = float(np.median(per_iter))
    assert result.history[-1]["loss"] > 0
