"""``pyprivml train gal``: one GAL run, in-process or under ``mpiexec -n M`` (one rank per organisation).

    pyprivml train gal --dataset diabetes --orgs 8 --model linear --rounds 10 --report gal.json
    pyprivml train gal --dataset wine --orgs 8 --split seed --recipe authors   # the authors' Table 1 run
    mpiexec -n 8 pyprivml train gal --dataset diabetes --orgs 8 --model linear --rounds 10
    pyprivml plot gal.json          # loss, η and assistance weights per round (seed Figure 4)

The shared options (``--dataset``, ``--seed``, ``--transport``, ``--timeout``, ``--report``,
``--no-progress``) come from the runner (:mod:`pyprivml.protocols.runner`); the options below are
GAL's own.
"""

from __future__ import annotations

import argparse
import time

from ..result import RunResult, exchange_seconds, traffic_by_phase
from dataclasses import replace

from .baselines import BASELINES, run_baseline
from .experiment import SPLITS, GALSetup, gal_rank
from .recipe import RECIPE_NAMES


def _q(text: str):
    parts = [float(p) for p in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def _eta(text: str):
    return text if text == "line_search" else float(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("GAL (seed 003)")
    g.add_argument("--orgs", type=int, default=None,
                   help="number of organisations M, Alice included (default: the MPI ranks, else 8)")
    g.add_argument("--model", default="linear",
                   help="local model: linear, mlp, cnn, gb, svm, or a mixture such as gb-svm")
    g.add_argument("--rounds", type=int, default=10, help="assistance rounds T")
    g.add_argument("--loss", default=None, choices=("squared", "l1", "cross_entropy"),
                   help="Alice's overarching loss (default: squared / cross_entropy by task)")
    g.add_argument("--q", type=_q, default=None,
                   help="local ℓ_q, or q1,q2 for the two halves (Table 4); default 1 (regression) or 2")
    g.add_argument("--weighting", default="learned", choices=("learned", "average"))
    g.add_argument("--eta", type=_eta, default="line_search", help="line_search or a constant rate")
    g.add_argument("--privacy", default=None, choices=("dp", "ip"), help="perturb residuals (Table 5)")
    g.add_argument("--noise-sigma", type=float, default=0.0,
                   help="σ of N(0, σ²) added by half of the organisations (Table 6)")
    g.add_argument("--dms", action="store_true", help="deep model sharing (mlp/cnn local models)")
    g.add_argument("--csv", default=None, help="CSV file for bostonhousing / qsar")
    g.add_argument("--baselines", default="", help=f"comma list of baselines to add: {','.join(BASELINES)}")
    g.add_argument("--split", default="per-seed", choices=SPLITS,
                   help="80/20 split: seed = the seed authors' (first int(0.8 N) rows of "
                        "RandomState(--split-seed).permutation(N); --split-seed 0 is theirs), per-seed = "
                        "default_rng(--seed) (default), random = a fresh unseeded draw, recorded in the report")
    g.add_argument("--recipe", default="ours", choices=RECIPE_NAMES,
                   help="ours (default) or authors: ℓ1 regression loss, Adam-fitted weights, 10 L-BFGS "
                        "line-search steps with |η| <= 300, torch's default init of the linear models")


def setup_from_args(args, size: int | None = None) -> GALSetup:
    orgs = args.orgs if args.orgs is not None else (size or 8)
    split = getattr(args, "split", "per-seed")
    # --split-seed (the runner's, default 0) picks the seed split's RandomState; per-seed splits by
    # --seed as before, and random draws its own.
    split_seed = getattr(args, "split_seed", 0) if split == "seed" else None
    return GALSetup(dataset=args.dataset, orgs=orgs, model=args.model, rounds=args.rounds,
                    seed=0 if args.seed is None else args.seed, loss=args.loss, q=args.q,
                    weighting=args.weighting, eta=args.eta, privacy=args.privacy,
                    noise_sigma=args.noise_sigma, dms=args.dms, csv_path=args.csv,
                    split=split, split_seed=split_seed, recipe=getattr(args, "recipe", "ours"))


def train(args, ctx):
    """Train GAL; return a :class:`pyprivml.report.Report` on Alice's rank, None elsewhere."""
    setup = setup_from_args(args, ctx.ranks(args.orgs, 8))
    if ctx.world is None:
        setup = setup.resolved()  # one process: draw a 'random' split's seed here, for the baselines too
    if ctx.world is not None and setup.num_orgs != ctx.world[1]:
        raise ValueError(f"--orgs {setup.num_orgs} needs mpiexec -n {setup.num_orgs}, got {ctx.world[1]} ranks")
    with ctx.progress(setup.rounds, f"GAL {setup.dataset} M={setup.num_orgs}") as bar:
        start = time.perf_counter()
        result = ctx.launch(lambda transport: gal_rank(transport, setup, progress=bar if transport.rank == 0 else None,
                                                       timeout=args.timeout), setup.num_orgs)
        seconds_total = time.perf_counter() - start
    if result.rank != 0:
        return None
    out, alice = result.master, result.transports[0]
    setup = replace(setup, split_seed=out["split_seed"])  # under mpiexec Alice drew a 'random' split
    key = "accuracy" if out["metric"] == "accuracy" else "mad"
    scale = 0.01 if key == "accuracy" else 1.0  # reports keep accuracy as a fraction
    history = [{"iteration": t, "loss": out["train_loss_per_round"][t - 1] if t else None,
                key: scale * out["test_metric_per_round"][t],
                "eta": out["eta_per_round"][t - 1] if t else None,
                "weights": out["weights_per_round"][t - 1] if t else None}
               for t in range(setup.rounds + 1)]
    baselines = {}
    for name in filter(None, (b.strip() for b in args.baselines.split(","))):
        baselines[name] = run_baseline(name, setup)["test_metric"]
    print(f"GAL test {out['metric']} after {setup.rounds} rounds: {out['test_metric']:.2f}"
          + "".join(f", {k} {v:.2f}" for k, v in baselines.items()))
    run = RunResult(parameters=setup.describe(), history=history,
                    seconds={"communication": exchange_seconds(alice.log, tuple(alice.log.phases)),
                             "total": seconds_total},
                    bytes=traffic_by_phase(alice.log))
    return run.report("gal", dataset=setup.dataset,
                      meta={**ctx.meta(), "metric": out["metric"], "test_metric": out["test_metric"],
                            "baselines": baselines})
