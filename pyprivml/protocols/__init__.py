"""Protocols built on the kernels and the transports.

* :mod:`pyprivml.protocols.codedprivateml`: CodedPrivateML (seed 004), master and worker roles;
  :mod:`~pyprivml.protocols.sigmoid` (eq. 13) and :mod:`~pyprivml.protocols.fixedpoint` hold its
  polynomial sigmoid and fixed-point bookkeeping.
* :mod:`pyprivml.protocols.mpc`: the BGW and BH08 baselines of seed 004 (appendix D).
* :mod:`pyprivml.protocols.gal`: gradient assisted learning (seed 003).

Subpackages are imported on demand so that, for example, running CodedPrivateML never imports torch.
"""
