"""Root pytest configuration: which package modules the doctest collector may import here."""

from pyprivml.backends import cuda_available

collect_ignore = ["setup.py", "pyprivml/__main__.py", "benchmarks", "build"]

# The CuPy backend raises ImportError by design where CUDA is absent; its doctests need a GPU.
if not cuda_available():
    collect_ignore.append("pyprivml/backends/cupy_backend.py")
