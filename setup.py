"""Builds the C kernels in kernels/ and their Cython bindings in bindings/ into pyprivml._native."""

import glob
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

kernel_sources = sorted(glob.glob(os.path.join("kernels", "*.c")))
extra_compile_args = ["-O3", "-std=c99", "-march=native", "-fno-strict-aliasing"]
if os.environ.get("PYPRIVML_PORTABLE"):  # wheels for other machines: no -march=native
    extra_compile_args.remove("-march=native")
if sys.platform == "win32":
    extra_compile_args = ["/O2"]

native = Extension(
    "pyprivml._native",
    sources=["bindings/_native.pyx", *kernel_sources],
    include_dirs=["kernels"],
    extra_compile_args=extra_compile_args,
)

setup(
    ext_modules=cythonize(
        [native],
        build_dir="build/cython",  # generated C stays out of the source tree
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
)
