"""Shared fixtures: every backend that must exist here, tested against the NumPy reference."""

import os

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.backends import BACKEND_NAMES, cuda_available, get_backend

# Backends that `make test` builds or installs: they must be importable, a skip would hide a defect.
REQUIRED_BACKENDS = ("numpy", "numba", "cython", "blas")


@pytest.fixture(params=BACKEND_NAMES)
def backend(request):
    """The name of each backend in turn; CuPy is skipped cleanly where no GPU is present."""
    name = request.param
    if name == "cupy" and not cuda_available():
        pytest.skip("CuPy backend needs CUDA and a GPU; none here")
    if name in REQUIRED_BACKENDS:
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
