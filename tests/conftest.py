"""Shared fixtures: every backend that must exist here, tested against the NumPy reference."""

import os

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.backends import BACKEND_NAMES, cuda_available, get_backend
from pyprivml.backends.cpu import has_exact_int8

# Backends that `make test` builds or installs: they must be importable, a skip would hide a defect.
REQUIRED_BACKENDS = ("numpy", "numba", "cython", "blas")


@pytest.fixture(params=BACKEND_NAMES)
def backend(request):
    """The name of each backend in turn; CuPy is skipped cleanly where no GPU is present."""
    name = request.param
    if name == "cupy" and not cuda_available():
        pytest.skip("CuPy backend needs CUDA and a GPU; none here")
    if name == "int8" and not has_exact_int8():
        pytest.skip("int8 backend needs AVX-512 VNNI, AVX-VNNI, AMX-INT8 or Arm dot products; this CPU has none")
    if name in REQUIRED_BACKENDS or name == "int8":
        get_backend(name)  # raises ImportError (a failure) if the build is missing
    return name


@pytest.fixture
def to_backend(backend):
    """Convert a NumPy array to the backend's array type, and results back to NumPy."""
    if backend == "cupy":
        import cupy

        return cupy.asarray, cupy.asnumpy
    return (lambda a: a), np.asarray


@pytest.fixture
def rng():
    return np.random.default_rng(int(os.environ.get("PYPRIVML_TEST_SEED", "12345")))


@pytest.fixture
def gil_probe():
    """:func:`main_thread_steps_during`, for tests that check a kernel releases the GIL."""
    return main_thread_steps_during


def main_thread_steps_during(call):
    """Run ``call()`` in a worker thread and count how often the main thread ran Python inside
    the middle of that call: with the GIL held, it could not run at all. A short switch interval
    hands the GIL back promptly once the call returns, so the window is the call's own.
    Returns (the call's result, steps inside, the call's seconds)."""
    import sys
    import threading
    import time

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    window = {}

    def work():
        t0 = time.perf_counter()
        window["result"] = call()
        window["span"] = (t0, time.perf_counter())

    stamps = []
    worker = threading.Thread(target=work)
    try:
        worker.start()
        while worker.is_alive():
            stamps.append(time.perf_counter())
        worker.join()
    finally:
        sys.setswitchinterval(interval)
    t0, t1 = window["span"]
    inside = [s for s in stamps if t0 + 0.1 * (t1 - t0) < s < t1 - 0.25 * (t1 - t0)]
    return window["result"], len(inside), t1 - t0
