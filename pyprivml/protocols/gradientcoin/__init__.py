"""GradientCoin: a proof-of-work chain whose blocks carry model updates (seeds 002 and 000).

* :mod:`.pow`: block headers, sha256d, Bitcoin's compact targets, work, retargeting, the nonce search;
* :mod:`.merkle`: a Merkle tree that cannot be mutated by duplicating leaves (CVE-2012-2459);
* :mod:`.tx`, :mod:`.utxo`, :mod:`.mempool`: coins: Ed25519-signed transactions, the UTXO set, the mempool;
* :mod:`.payload`, :mod:`.losses`: the model update a gradient block carries, and the objectives;
* :mod:`.chain`: gradient blocks, validation, fork choice by work, orphans, reorganisation with undo;
* :mod:`.wire`, :mod:`.peer`: the messages, and a peer that trains, mines, pays and gossips;
* :mod:`.network`: the seeded event network (delays, loss, partitions, crashes);
* :mod:`.store`: the node's SQLite database, one transaction per block, validated on restore;
* :mod:`.run`, :mod:`.cli`, :mod:`.plot`: runs over MPI, threads or the event network, the CLI;
* :mod:`.attack`: the attacker race of the Bitcoin whitepaper, §11;
* :mod:`.toy`: seed 000, Alice and Bob with two aggregators racing on the puzzle.

Imports go one way: pow, merkle, tx → utxo → mempool, payload → chain → wire → store → peer →
network → run → cli.
"""
