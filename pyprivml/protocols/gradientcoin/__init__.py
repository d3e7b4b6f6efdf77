"""GradientCoin: a proof-of-work chain whose blocks carry model updates (seeds 002 and 000).

* :mod:`.pow`: block headers, sha256d, Bitcoin's compact targets, work, retargeting, the nonce search;
* :mod:`.merkle`: a Merkle tree that cannot be mutated by duplicating leaves (CVE-2012-2459);
* :mod:`.tx`, :mod:`.utxo`, :mod:`.mempool`: coins: Ed25519-signed transactions, the UTXO set, the mempool;
* :mod:`.payload`, :mod:`.losses`: the model update a gradient block carries, and the objectives;
* :mod:`.chain`: gradient blocks, validation, fork choice by work, orphans, reorganisation with undo;
* :mod:`.toy`: seed 000, Alice and Bob with two aggregators racing on the puzzle.

Not yet built (issue 11): peers gossiping over MPI and the event network, the SQLite node that
survives a restart, the compiled nonce search, ``pyprivml train gradientcoin`` and ``chain show``.
"""
