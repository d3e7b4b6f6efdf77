"""``pyprivml train gradientcoin`` and ``pyprivml chain show`` (seed 002; ``--toy``: seed 000).

    pyprivml train gradientcoin --peers 6 --loss softmax --height 30 --report gc.json --plot gc.png
    mpiexec -n 6 pyprivml train gradientcoin --peers 6 --difficulty 0x1e0fffff --db chain/
    pyprivml train gradientcoin --loss ridge --sketch countsketch --b 4
    pyprivml train gradientcoin --toy                # seed 000: Alice, Bob and two aggregators
    pyprivml chain show chain/peer0.sqlite           # the chain, like a block explorer

The shared options (``--seed``, ``--transport``, ``--timeout``, ``--report``, ``--no-progress``)
come from the runner. Under ``mpiexec`` every rank is one peer; in-process every peer is a thread.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..result import RunResult
from . import payload
from .run import LOSSES, GradientCoinConfig, config_from_dict, make_objective, make_params, run_network

__all__ = ["add_arguments", "train", "register", "show_chain"]


def _bits(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--difficulty takes compact bits such as 0x1e0fffff, got {text!r}") from None


def _dp(text: str) -> tuple:
    try:
        clip, eps, delta = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--dp takes CLIP,EPS,DELTA such as 1.0,1.0,1e-5, got {text!r}") from None
    if not (clip > 0 and eps > 0 and 0 < delta < 1):
        raise argparse.ArgumentTypeError(f"--dp needs CLIP > 0, EPS > 0 and 0 < DELTA < 1, got {text!r}")
    return clip, eps, delta


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = GradientCoinConfig()
    g = parser.add_argument_group("GradientCoin (seeds 002 and 000)")
    g.add_argument("--toy", action="store_true", help="seed 000: Alice and Bob, two aggregators racing (4 ranks)")
    g.add_argument("--peers", type=int, default=None, help="peers (default: the MPI ranks, else 6)")
    g.add_argument("--difficulty", type=_bits, default=d.bits, metavar="BITS",
                   help=f"compact target bits of the genesis block (default {d.bits:#010x})")
    g.add_argument("--loss", default=d.loss, choices=LOSSES, help="the objective the blocks train")
    g.add_argument("--height", type=int, default=d.height, help="blocks to build before the peers stop")
    g.add_argument("--local-steps", type=int, default=d.local_steps, help="K: local gradient steps per block")
    g.add_argument("--lr", type=float, default=None, help="η (default 1 / λ_max of the objective's Hessian)")
    g.add_argument("--max-update-norm", type=float, default=None,
                   help="consensus bound on a block's step (default 4 × the first honest step)")
    g.add_argument("--sketch", default=None, choices=payload.KIND_CODES, help="Algorithm 5's sketch of Δx")
    g.add_argument("--b", type=int, default=None, help="the sketch size b_sketch")
    g.add_argument("--payment", type=float, default=d.payment,
                   help="fraction of its mature coins a peer pays another after each block it mines")
    g.add_argument("--dp", type=_dp, default=None, metavar="CLIP,EPS,DELTA",
                   help="user-level DP on every published Δx: clip to CLIP, Gaussian noise for (EPS, DELTA) per block")
    g.add_argument("--db", default=None, metavar="DIR", help="each peer keeps its chain in DIR/peer<R>.sqlite")
    g.add_argument("--plot", default=None, metavar="OUT.png", help="loss against height, forks and reorganisations")


def train(args, ctx):
    """Run the network; a :class:`pyprivml.report.Report` on rank 0, None elsewhere."""
    if args.toy:
        return _train_toy(args, ctx)
    peers = ctx.ranks(args.peers, 6)
    if ctx.world is not None and peers != ctx.world[1]:
        raise ValueError(f"--peers {peers} needs mpiexec -n {peers}, got {ctx.world[1]} ranks")
    if ctx.kind == "simulated":
        raise ValueError("GradientCoin's peers race on real proof of work, which the simulated transport's "
                         "one-rank-at-a-time clock cannot run; use --transport inprocess or mpi, or "
                         "pyprivml.protocols.gradientcoin.run.simulate for the seeded event network")
    cfg = GradientCoinConfig(peers=peers, loss=args.loss, bits=args.difficulty, local_steps=args.local_steps,
                             lr=args.lr, max_update_norm=args.max_update_norm, sketch=args.sketch, b=args.b,
                             height=args.height, payment=args.payment, dp=args.dp, seed=args.seed or 0,
                             timeout=args.timeout)
    with ctx.progress(cfg.height, f"GradientCoin {peers} peers") as bar:
        summary, _ = run_network(cfg, transport=ctx.kind, db_dir=args.db, progress=bar)
    if summary is None:
        return None
    optimum = objective_optimum(make_objective(cfg.loss, cfg.seed))
    reorgs = [len(p["reorganisations"]) for p in summary.peers]
    print(f"GradientCoin, {peers} peers, {cfg.loss}: height {summary.peers[0]['height']}, "
          f"{'all peers on one tip, UTXO set and model' if summary.agreed else 'PEERS DISAGREE'}; "
          f"{sum(p['mined'] for p in summary.peers)} blocks mined, {sum(reorgs)} reorganisations, "
          f"{sum(p['payments'] for p in summary.peers)} payments; loss gap L(x_t) - L* {summary.history[0][1] - optimum:.3g} "
          f"-> {summary.history[-1][1] - optimum:.3g}"
          + ("" if cfg.dp is None else f"; user-level DP: ε up to {max(p['epsilon'] for p in summary.peers):.3g} "
             f"at δ = {cfg.dp[2]:g} over each peer's published blocks"))
    params = {"peers": peers, "loss": cfg.loss, "bits": f"{cfg.bits:#010x}", "height": cfg.height,
              "local_steps": cfg.local_steps, "sketch": cfg.sketch, "b": cfg.b, "iterations": summary.peers[0]["height"]}
    history = [{"iteration": h, "loss": loss} for h, loss in summary.history]
    run = RunResult(parameters=params, history=history, seconds={"total": summary.seconds}, bytes={})
    peers_meta = [{k: v for k, v in p.items() if k not in ("x", "events")} for p in summary.peers]
    report = run.report("gradientcoin", dataset=f"{cfg.loss} objective",
                        meta={**ctx.meta(), "agreed": summary.agreed, "optimum": optimum, "peers": peers_meta})
    if args.plot:
        from .plot import plot_run

        plot_run(summary, args.plot, optimum=optimum)
        print(f"plot: {args.plot}")
    if not summary.agreed:
        raise ValueError("the peers ended on different tips, UTXO sets or models (see the report)")
    return report


def objective_optimum(objective) -> float:
    """min L by L-BFGS on the whole objective (the reference of the loss gap)."""
    from scipy.optimize import minimize

    res = minimize(objective.value, np.zeros(objective.dim), jac=objective.gradient, method="L-BFGS-B",
                   options={"maxiter": 10_000, "gtol": 1e-12, "ftol": 1e-15})
    return float(res.fun)


def _train_toy(args, ctx):
    from .toy import ToyConfig, centralised_gd, run_toy

    rng = np.random.default_rng(args.seed or 0)
    X = np.hstack([rng.normal(size=(40, 5)), np.ones((40, 1))])
    y = X @ rng.normal(size=6)
    parts = [(X[:20], y[:20]), (X[20:], y[20:])]
    cfg = ToyConfig(gamma=0.5, alpha=0.01, rounds=args.height, bits=0x1F00FFFF, seed=args.seed or 0,
                    timeout=args.timeout)
    run = run_toy(parts, np.zeros(6), cfg, transport=ctx.kind)
    mine = run.results[run.rank]
    if run.rank != 0:
        return None
    want = centralised_gd(parts, np.zeros(6), cfg.gamma, cfg.alpha, cfg.rounds)
    exact = len(mine.weights) == cfg.rounds and all(np.array_equal(a, b) for a, b in zip(mine.weights, want))
    print(f"seed 000 toy: {cfg.rounds} blocks, winners {''.join(str(w - 1) for w in mine.winners)} "
          f"(Agg1 = 1, Agg2 = 2); the chain's w {'equals' if exact else 'DIFFERS FROM'} centralised gradient "
          f"descent bit for bit")
    if not exact:
        raise ValueError("the toy chain's weights differ from centralised gradient descent")
    history = [{"iteration": t + 1, "loss": None} for t in range(cfg.rounds)]
    run_result = RunResult(parameters={"rounds": cfg.rounds, "gamma": cfg.gamma, "alpha": cfg.alpha},
                           history=history, seconds={}, bytes={})
    return run_result.report("gradientcoin-toy", dataset="seed 000 ridge", meta={**ctx.meta(), "exact": exact})


# -- ``pyprivml chain show DB`` ---------------------------------------------------------------------

def register(subparsers) -> None:
    """Add ``chain show`` to the ``pyprivml`` command line (:data:`pyprivml.cli.COMMANDS`)."""
    p = subparsers.add_parser("chain", help="GradientCoin: inspect a peer's database")
    sub = p.add_subparsers(dest="chain_command", required=True)
    show = sub.add_parser("show", help="print the chain like a block explorer")
    show.add_argument("db", help="a peer's database (DIR/peer<R>.sqlite), or the --db DIR (peer 0's)")
    show.add_argument("--all", action="store_true", help="also the side branches' blocks")
    show.set_defaults(func=show_command)


def show_command(args) -> int:
    print(show_chain(args.db, side_branches=args.all))
    return 0


def show_chain(path, *, side_branches: bool = False) -> str:
    """The text ``pyprivml chain show`` prints: one line per block, validated on the way."""
    from .pow import display_hex
    from .store import ChainStore

    path = Path(path)
    if path.is_dir():
        path = path / "peer0.sqlite"
    if not path.is_file():
        raise ValueError(f"no GradientCoin database at {path}")
    store = ChainStore(path)
    try:
        info = store.info()
        if "config" not in info:
            raise ValueError(f"{path} has no run configuration (was it written by pyprivml train gradientcoin --db?)")
        cfg = config_from_dict(info["config"])
        objective = make_objective(cfg.loss, cfg.seed or 0)
        chain = store.load(make_params(cfg, objective))       # validates every block again
        rows = store.rows()
    finally:
        store.close()
    lines = [f"{path}: peer {info.get('rank')}, {cfg.loss} objective, {cfg.peers} peers; tip height {chain.height}, "
             f"cumulative work {chain.work:,}, {len(chain.utxo)} unspent coins, {len(chain.reorganisations)} "
             f"reorganisations during the replay",
             f"{'height':>6}  {'hash':<16}  {'work':>12}  {'miner':<10}  {'txs':>3}  {'update norm':>11}  {'loss':>10}  branch"]
    models = dict(chain.models())
    for height, h, _, active in rows:
        if not active and not side_branches:
            continue
        block = chain.blocks[h]
        step = payload.desketched(block.update, block.header.prev_hash)
        loss = f"{objective.value(models[height]):10.5g}" if active else ""
        miner = block.transactions[0].outputs[0].pubkey.hex()[:10] if block.transactions else "genesis"
        lines.append(f"{height:>6}  {display_hex(h)[:16]:<16}  {chain.index[h].work if h in chain.index else 0:>12,}  "
                     f"{miner:<10}  {max(len(block.transactions) - 1, 0):>3}  {np.linalg.norm(step):>11.4g}  "
                     f"{loss:>10}  {'active' if active else 'side'}")
    return "\n".join(lines)
