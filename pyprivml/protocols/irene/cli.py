"""``pyprivml train irene``: collaborative bootstrapping of the face tagger (seed 001), in-process or
under ``mpiexec -n k+1`` (rank 0 the parameter server, ranks 1..k the users).

    pyprivml train irene --users 4 --stage all --ticks 60 --report irene.json
    mpiexec -n 9 pyprivml train irene --users 8 --stage bootstrap --tag-noise 0.3 --alpha 0.9

``--dataset`` names the identity set: ``faces`` (the default: the stand-in built from the 100
real LFW crops that ship with scikit-image, :func:`.data.load_lfw_standin`) or ``digits``
(scikit-learn's digits as identities). The shared options (``--seed``, ``--transport``,
``--timeout``, ``--report``, ``--no-progress``) come from the runner.
"""

from __future__ import annotations

import argparse

from ..result import RunResult
from .training import STAGES, IreneConfig, run_irene

#: ``--stage`` values: one stage of Fig. 3, or all of them in order.
STAGE_CHOICES = {"bootstrap": ("bootstrap",), "metric": ("bootstrap", "metric"), "tune": STAGES, "all": STAGES}
#: ``--dataset`` values: the runner's default (digits49) means the face stand-in here.
DATASETS = {"faces": "faces", "digits49": "faces", "lfw-standin": "faces", "digits": "digits"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = IreneConfig()
    g = parser.add_argument_group("Irene (seed 001)")
    g.add_argument("--users", type=int, default=None, help="users k (default: the MPI ranks - 1, else 4)")
    g.add_argument("--stage", default="all", choices=tuple(STAGE_CHOICES),
                   help="run up to this stage of Fig. 3 (bootstrap, then metric = MT-LMNN, then tune)")
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
    g.add_argument("--feature-dim", type=int, default=defaults.feature_dim, help="d, the dimension of ψ(ℓ)")
    g.add_argument("--metric-rounds", type=int, default=defaults.metric_rounds, help="MT-LMNN exchanges of W₀")
    g.add_argument("--tune-ticks", type=int, default=defaults.tune_ticks, help="fine-tuning EASGD ticks per user")
    g.add_argument("--save", default=None, metavar="DIR",
                   help="each user writes its model, metric and tagged collection to DIR/user<K>.pt")
    g.add_argument("--tune-epsilon", type=float, default=defaults.tune_epsilon,
                   help="ε per batch of Algorithm 3 while tuning (§IV-C: 1)")


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
                       clip=args.clip, feature_dim=args.feature_dim, metric_rounds=args.metric_rounds,
                       tune_ticks=args.tune_ticks, tune_epsilon=args.tune_epsilon, save_dir=args.save,
                       seed=0 if args.seed is None else args.seed, timeout=args.timeout)


def train(args, ctx):
    """Run the stage; return a :class:`pyprivml.report.Report` on the server's rank, None elsewhere."""
    users = ctx.ranks(None if args.users is None else args.users + 1, 5) - 1
    if ctx.world is not None and users + 1 != ctx.world[1]:
        raise ValueError(f"--users {users} needs mpiexec -n {users + 1}, got {ctx.world[1]} ranks")
    cfg = config_from_args(args, users)
    faces = load_identities(args.dataset, cfg.seed)
    stages = STAGE_CHOICES[args.stage]
    exchanges = users * -(-cfg.ticks // cfg.period)
    with ctx.progress(exchanges, f"Irene bootstrap k={users}") as bar:
        result = run_irene(faces, cfg, stages, transport=ctx.kind, network=ctx.network, progress=bar)
    if result is None:
        return None
    mean = {key: sum(u[key] for u in result.users) / len(result.users)
            for key in result.users[0] if key.startswith(("accuracy", "verification"))}
    epsilon = max(u.get("epsilon", 0.0) for u in result.users)
    boot = result.bootstrap
    print(f"Irene {'+'.join(stages)}, {users} users: "
          + ", ".join(f"{k.replace('_', ' ')} {v:.1%}" for k, v in mean.items())
          + (f"; bootstrapping (ε, δ) = ({epsilon:.3g}, {cfg.delta:g}) per user" if cfg.dp else "; no DP")
          + (f"; the server applied {sum(boot.applied.values())} differences at {boot.updates_per_second:.0f}/s"
             if boot else ""))
    params = {"users": users, "stages": list(stages), "model": cfg.model, "feature_dim": cfg.feature_dim,
              "ticks": cfg.ticks, "period": cfg.period, "beta": cfg.beta, "dropout": cfg.dropout, "lr": cfg.lr,
              "batch": cfg.batch, "alpha": cfg.alpha, "tag_noise": cfg.tag_noise, "dp": cfg.dp,
              "epsilon_per_batch": cfg.epsilon, "delta": cfg.delta, "clip": cfg.clip,
              "metric_rounds": cfg.metric_rounds, "tune_ticks": cfg.tune_ticks, "tune_epsilon": cfg.tune_epsilon}
    history = [{"iteration": 0, "loss": None, **mean}]
    seconds = {"total": result.seconds}
    for name in ("bootstrap", "tune"):
        stage = getattr(result, name)
        if stage is not None:
            seconds[f"{name}_server_busy"] = stage.busy_seconds
    run = RunResult(parameters=params, history=history, seconds=seconds, bytes=result.bytes)
    meta = {**ctx.meta(), "users": result.users, "epsilon": epsilon}
    if boot is not None:
        meta.update(kept_fraction=(sum(boot.kept_fraction) / len(boot.kept_fraction) if boot.kept_fraction else 1.0),
                    updates_per_second=boot.updates_per_second)
    if result.metric is not None:
        meta.update(metric_rounds=result.metric.rounds, metric_converged=bool(result.metric.converged))
    return run.report("irene", dataset=faces.source, meta=meta)


# -- ``pyprivml irene tag PHOTO --user K --run DIR`` (the app, §II-B) ----------------------------------

def register(subparsers) -> None:
    """Add ``irene tag`` to the ``pyprivml`` command line (:data:`pyprivml.cli.COMMANDS`)."""
    p = subparsers.add_parser("irene", help="Irene's app: tag the faces of a photo with a trained user's model")
    sub = p.add_subparsers(dest="irene_command", required=True)
    tag = sub.add_parser("tag", help="faces → faceprints → nearest tagged faces of user K (§II-B)")
    tag.add_argument("photo", help="an image file, or 'astronaut' for scikit-image's sample photo")
    tag.add_argument("--user", type=int, required=True, help="K: whose model, metric and collection to use")
    tag.add_argument("--run", required=True, metavar="DIR", help="the --save directory of pyprivml train irene")
    tag.add_argument("--k", type=int, default=1, help="nearest tagged faces that vote")
    tag.add_argument("--threshold", type=float, default=None, help="no suggestion beyond this distance")
    tag.add_argument("--min-size", type=int, default=48, help="smallest face searched, pixels")
    tag.add_argument("--max-size", type=int, default=None, help="largest face searched, pixels")
    tag.set_defaults(func=tag_command)


def tag_command(args) -> int:
    from pathlib import Path

    from .app import load_user_state, tag_photo

    state = Path(args.run) / f"user{args.user}.pt"
    if not state.is_file():
        raise ValueError(f"no trained state for user {args.user} at {state} "
                         f"(train with: pyprivml train irene --save {args.run})")
    if args.photo == "astronaut":
        from skimage import data

        photo = data.astronaut()
    else:
        from skimage import io

        if not Path(args.photo).is_file():
            raise ValueError(f"no such photo: {args.photo}")
        photo = io.imread(args.photo)
    embed, collection, crop_size = load_user_state(state)
    size = None if args.max_size is None else (args.max_size, args.max_size)
    suggestions = tag_photo(photo, embed, collection, k=args.k, threshold=args.threshold, crop_size=crop_size,
                            min_size=(args.min_size, args.min_size), max_size=size)
    print(f"{len(suggestions)} face(s) in {args.photo}; user {args.user}'s collection holds {len(collection)} "
          f"tagged faces")
    for s in suggestions:
        b = s.box
        print(f"  face at row {b.row}, col {b.col}, {b.height}x{b.width}: "
              + (f"suggest {s.tag} (distance {s.distance:.3f})" if s.tag else f"no tag within the threshold "
                 f"(nearest at {s.distance:.3f})"))
    return 0
