"""pyprivml: fast exact kernels and protocols for privacy-preserving distributed machine learning.

``import pyprivml`` loads only the math layers (the field, the backends, linear algebra,
quantisation, Lagrange coding, Shamir sharing, secure randomness); the estimators, the protocols,
the transports (and mpi4py), the sketches and the DP parts load on first use (PEP 562).

>>> import numpy as np, pyprivml as pp
>>> F = pp.PrimeField()
>>> pp.modmatmul(np.array([[F.p - 1]]), np.array([[F.p - 1]]), F)
array([[1]])
>>> pp.modmul(np.array([F.p - 1]), np.array([2]), F), pp.modsub(np.array([0]), np.array([1]), F)
(array([33554391]), array([33554392]))
"""

import importlib

from .backends import available_backends, get_backend, set_backend
from .field import DEFAULT_PRIME, PrimeField, is_prime, next_prime, prev_prime
from .lagrange import LagrangeCode
from .linalg import modadd, modcombine, modmatmul, modmatvec, modmul, modsub
from .quantization import dequantize, quantize, quantize_stochastic, round_half_up, round_stochastic
from .random import SecureRandom
from .shamir import recombination_vector, shamir_reconstruct, shamir_share
from .threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

#: Public names loaded on first use: name -> the module that defines it.
_LAZY = {
    "CodedPrivateLogisticRegression": "pyprivml.estimators",
    "CodedPrivateLinearRegression": "pyprivml.estimators",
    "GradientDescentLogisticRegression": "pyprivml.estimators",
    "GradientDescentLinearRegression": "pyprivml.estimators",
    "NotFittedError": "pyprivml.estimators",
    "kernel_info": "pyprivml.kernelinfo",
    "CRT": "pyprivml.crt",
}
_LAZY_MODULES = ("dp", "sketch", "comm", "protocols", "data", "estimators", "report", "plot", "cli")

__all__ = [
    "PrimeField", "DEFAULT_PRIME", "is_prime", "next_prime", "prev_prime",
    "modmatmul", "modmatvec", "modcombine", "modadd", "modsub", "modmul",
    "quantize", "quantize_stochastic", "dequantize", "round_half_up", "round_stochastic",
    "available_backends", "set_backend", "get_backend", "set_num_threads", "get_num_threads",
    "SecureRandom", "LagrangeCode", "shamir_share", "shamir_reconstruct", "recombination_vector",
    "CodedPrivateLogisticRegression", "CodedPrivateLinearRegression",
    "GradientDescentLogisticRegression", "GradientDescentLinearRegression", "NotFittedError",
    "dp", "sketch", "kernel_info", "CRT",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _LAZY_MODULES:
        value = importlib.import_module(f"pyprivml.{name}")
    else:
        raise AttributeError(f"module 'pyprivml' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_MODULES))
