"""The simulated cluster, kept importable under its first name: it is the transport kind
``"simulated"`` of :mod:`pyprivml.comm` and lives in :mod:`pyprivml.comm.simulated`.

>>> from pyprivml.simulate import run_simulated
>>> run_simulated(lambda t: t.rank, 2).results
[0, 1]
"""

from .comm.simulated import *  # noqa: F401,F403
from .comm.simulated import __all__  # noqa: F401
