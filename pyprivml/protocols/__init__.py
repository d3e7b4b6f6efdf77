"""Protocols built on the kernels and the transports: one shared skeleton, then one package each.

The skeleton, which every protocol uses and none owns:

* :mod:`.config`: the frozen, validated base configuration and the shared parameter checks;
* :mod:`.result`: the run result, the phase timer on the transport's clock, traffic per phase;
* :mod:`.progress`: the one progress convention (a tqdm bar on rank 0);
* :mod:`.runner`: the command-line runner (data, transport, report) each protocol plugs into;
* :mod:`.tags`: the one registry of message tags;
* :mod:`.inputs` and :mod:`.estimator`: data checks and the scikit-learn style estimator base.

What the seed 004 protocols share, the learning task: :mod:`.regression` (configuration, the
master's loop, the float baseline), :mod:`.fixedpoint` (scales and the wrap-around proof) and
:mod:`.sigmoid` (eq. 13). Then the protocols, which import the skeleton and never each other:

* :mod:`pyprivml.protocols.codedprivateml`: CodedPrivateML (seed 004);
* :mod:`pyprivml.protocols.mpc`: the BGW and BH08 baselines of seed 004 (appendix D);
* :mod:`pyprivml.protocols.gal`: gradient assisted learning (seed 003).

:mod:`.compare` runs the seed 004 protocols side by side (Table II). Subpackages are imported on
demand so that, for example, running CodedPrivateML never imports torch.
"""
