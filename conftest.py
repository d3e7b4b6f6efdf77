"""Root pytest configuration: which package modules the doctest collector may import here."""

import importlib.util

collect_ignore = ["setup.py", "pyprivml/__main__.py", "benchmarks"]

# The CuPy backend raises ImportError by design where CUDA is absent; its doctests need a GPU.
if importlib.util.find_spec("cupy") is None:
    collect_ignore.append("pyprivml/backends/cupy_backend.py")
