"""Builds the C kernels in kernels/ and their Cython bindings in bindings/ into pyprivml._native."""

import glob
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

kernel_sources = sorted(glob.glob(os.path.join("kernels", "*.c")))
# A portable build: baseline x86-64 (or the platform's default), with the hot kernels cloned for
# x86-64-v3 and -v4 and chosen at run time (kernels/modarith.h, PPML_DISPATCH), so an extension
# built on one machine runs, at its best, on any other. PYPRIVML_NATIVE=1 builds for this machine
# alone (-march=native), which then may not run elsewhere.
extra_compile_args = ["-O3", "-std=c99", "-fno-strict-aliasing"]
if os.environ.get("PYPRIVML_NATIVE") == "1":
    extra_compile_args.append("-march=native")
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
