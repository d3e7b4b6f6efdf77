"""Root pytest configuration: which package modules the doctest collector may import here."""

import os

# Tuning never runs inside a test unless the test asks for it (tests/test_autotune.py does):
# "auto" routes are then the static ones, the same on every machine and run.
os.environ.setdefault("PYPRIVML_AUTOTUNE", "0")

from pyprivml.backends import cuda_available  # noqa: E402

collect_ignore = ["setup.py", "pyprivml/__main__.py", "benchmarks", "build"]

# The CuPy backend raises ImportError by design where CUDA is absent; its doctests need a GPU.
if not cuda_available():
    collect_ignore.append("pyprivml/backends/cupy_backend.py")
