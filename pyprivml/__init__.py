"""pyprivml: fast exact kernels and protocols for privacy-preserving distributed machine learning.

>>> import numpy as np, pyprivml as pp
>>> F = pp.PrimeField()
>>> pp.modmatmul(np.array([[F.p - 1]]), np.array([[F.p - 1]]), F)
array([[1]])
"""

from .backends import available_backends, get_backend, set_backend
from .estimators import (CodedPrivateLinearRegression, CodedPrivateLogisticRegression,
                         GradientDescentLinearRegression, GradientDescentLogisticRegression, NotFittedError)
from .field import DEFAULT_PRIME, PrimeField, is_prime, next_prime, prev_prime
from .lagrange import LagrangeCode
from .linalg import modcombine, modmatmul, modmatvec
from .quantization import dequantize, quantize, quantize_stochastic, round_half_up, round_stochastic
from .random import SecureRandom
from .shamir import recombination_vector, shamir_reconstruct, shamir_share
from .threads import get_num_threads, set_num_threads
from . import dp, sketch  # noqa: E402  (subpackages: pp.sketch.make, pp.dp.ClippedGaussian)

__version__ = "0.1.0"

__all__ = [
    "PrimeField", "DEFAULT_PRIME", "is_prime", "next_prime", "prev_prime",
    "modmatmul", "modmatvec", "modcombine",
    "quantize", "quantize_stochastic", "dequantize", "round_half_up", "round_stochastic",
    "available_backends", "set_backend", "get_backend", "set_num_threads", "get_num_threads",
    "SecureRandom", "LagrangeCode", "shamir_share", "shamir_reconstruct", "recombination_vector",
    "CodedPrivateLogisticRegression", "CodedPrivateLinearRegression",
    "GradientDescentLogisticRegression", "GradientDescentLinearRegression", "NotFittedError",
    "dp", "sketch",
]
