"""``pyprivml train irene``: collaborative bootstrapping of the face tagger (seed 001), in-process or
under ``mpiexec -n k+1`` (rank 0 the parameter server, ranks 1..k the users).

    pyprivml train irene --users 4 --stage bootstrap --ticks 60 --report irene.json
    mpiexec -n 9 pyprivml train irene --users 8 --stage bootstrap --tag-noise 0.3 --alpha 0.9

``--dataset`` names the identity set: ``faces`` (the default: the stand-in built from the 100
real LFW crops that ship with scikit-image, :func:`.data.load_lfw_standin`) or ``digits``
(scikit-learn's digits as identities). The shared options (``--seed``, ``--transport``,
``--timeout``, ``--report``, ``--no-progress``) come from the runner.
"""

from __future__ import annotations

import argparse

from ..result import RunResult
from .training import IreneConfig, run_bootstrap

STAGES = ("bootstrap",)
#: ``--dataset`` values: the runner's default (digits49) means the face stand-in here.
DATASETS = {"faces": "faces", "digits49": "faces", "lfw-standin": "faces", "digits": "digits"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = IreneConfig()
    g = parser.add_argument_group("Irene (seed 001)")
    g.add_argument("--users", type=int, default=None, help="users k (default: the MPI ranks - 1, else 4)")
    g.add_argument("--stage", default="bootstrap", choices=STAGES, help="the training stage of Fig. 3")
    g.add_argument("--model", default=defaults.model, choices=("cnn", "vgg"), help="ψ: a small CNN or Table II's VGG")
    g.add_argument("--ticks", type=int, default=defaults.ticks, help="local SGD steps per user (Algorithm 1)")
    g.add_argument("--period", type=int, default=defaults.period, help="λ: ticks between exchanges")
    g.add_argument("--beta", type=float, default=defaults.beta, help="β: EASGD's moving rate")
    g.add_argument("--dropout", type=float, default=defaults.dropout,
                   help="dropout of the thinned exchange (0: send every parameter)")
    g.add_argument("--lr", type=float, default=defaults.lr, help="η: the users' SGD learning rate")
    g.add_argument("--batch", type=int, default=defaults.batch, help="photos per step")
    g.add_argument("--alpha", type=float, default=defaults.alpha, help="α of eq. 2 (1: plain cross entropy)")
    g.add_argument("--tag-noise", type=float, default=defaults.tag_noise, help="fraction of wrong tags (§IV-D)")
    g.add_argument("--no-dp", dest="dp", action="store_false", help="no differential privacy (Algorithm 2 off)")
    g.add_argument("--epsilon", type=float, default=defaults.epsilon, help="ε per batch (§IV-C: 0.5)")
    g.add_argument("--delta", type=float, default=defaults.delta, help="δ per batch (§IV-C: 1e-3)")
    g.add_argument("--clip", type=float, default=defaults.clip, help="γ₁, the per-sample clipping norm")


def load_identities(name: str, seed: int):
    from . import data

    try:
        kind = DATASETS[name]
    except KeyError:
        raise ValueError(f"Irene's --dataset must be one of {', '.join(sorted(set(DATASETS) - {'digits49'}))}, "
                         f"got {name!r}") from None
    return data.load_lfw_standin(seed=seed) if kind == "faces" else data.load_digits_identities()


def config_from_args(args, users: int) -> IreneConfig:
    return IreneConfig(users=users, model=args.model, ticks=args.ticks, period=args.period, beta=args.beta,
                       dropout=args.dropout, lr=args.lr, batch=args.batch, alpha=args.alpha,
                       tag_noise=args.tag_noise, dp=args.dp, epsilon=args.epsilon, delta=args.delta,
                       clip=args.clip, seed=0 if args.seed is None else args.seed, timeout=args.timeout)


def train(args, ctx):
    """Run the stage; return a :class:`pyprivml.report.Report` on the server's rank, None elsewhere."""
    users = ctx.ranks(None if args.users is None else args.users + 1, 5) - 1
    if ctx.world is not None and users + 1 != ctx.world[1]:
        raise ValueError(f"--users {users} needs mpiexec -n {users + 1}, got {ctx.world[1]} ranks")
    cfg = config_from_args(args, users)
    faces = load_identities(args.dataset, cfg.seed)
    exchanges = users * -(-cfg.ticks // cfg.period)
    with ctx.progress(exchanges, f"Irene bootstrap k={users}") as bar:
        result = run_bootstrap(faces, cfg, transport=ctx.kind, network=ctx.network, progress=bar)
    if result is None:
        return None
    accuracy = sum(u["accuracy"] for u in result.users) / len(result.users)
    epsilon = max(u["epsilon"] for u in result.users)
    server = result.server
    print(f"Irene bootstrap, {users} users, {cfg.ticks} ticks: held-out accuracy {accuracy:.2%}"
          + (f", (ε, δ) = ({epsilon:.3g}, {cfg.delta:g}) per user" if cfg.dp else ", no DP")
          + f"; server applied {sum(server.applied.values())} differences at {server.updates_per_second:.0f}/s")
    params = {"users": users, "model": cfg.model, "ticks": cfg.ticks, "period": cfg.period, "beta": cfg.beta,
              "dropout": cfg.dropout, "lr": cfg.lr, "batch": cfg.batch, "alpha": cfg.alpha,
              "tag_noise": cfg.tag_noise, "dp": cfg.dp, "epsilon_per_batch": cfg.epsilon, "delta": cfg.delta,
              "clip": cfg.clip, "stage": args.stage}
    history = [{"iteration": 0, "loss": None, "accuracy": accuracy}]
    run = RunResult(parameters=params, history=history,
                    seconds={"total": result.seconds, "server_busy": server.busy_seconds},
                    bytes=result.bytes)
    return run.report("irene", dataset=faces.source,
                      meta={**ctx.meta(), "users": result.users, "epsilon": epsilon,
                            "kept_fraction": (sum(server.kept_fraction) / len(server.kept_fraction)
                                              if server.kept_fraction else 1.0),
                            "updates_per_second": server.updates_per_second})
