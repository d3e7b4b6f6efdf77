"""Reproduce seed 001 (Irene) §IV on the offline stand-in data: Figures 7-11 and Table III.

Every run goes through the in-process transport (one thread per rank: rank 0 the parameter server,
ranks 1..k the users), on the face stand-in (the 100 LFW crops of scikit-image, each made an
identity by augmentation, :func:`pyprivml.protocols.irene.data.load_lfw_standin`) and on
scikit-learn's digits as a second identity set.

    .venv/bin/python benchmarks/reproduce_irene.py --figure 7 [--dataset faces|digits|both]
        [--json OUT.json] [--plot OUT.png] [--quick] [--seed 0]
    .venv/bin/python benchmarks/reproduce_irene.py --figure all --out-dir docs/img

* Figure 7: held-out bootstrapping accuracy (mean over users) against tag noise for α of eq. 2.
* Figure 8: collusion: the same faces through two users' models and metrics M_k = W₀ + W_k (MT-LMNN);
  the wrong-tag rate of a nearest-neighbour search across users with the gallery owner's threshold,
  against the within-user rate. The users' models and metric factors L_k come from ``run_irene``
  itself: ``IreneConfig(save_dir=...)`` makes each user write ``user<k>.pt`` (its model and L_k), the
  file ``pyprivml irene tag`` reads; nothing in the library is changed or re-implemented for this.
* Figure 9: verification accuracy before and after fine-tuning, tuned with the MT-LMNN commonality
  metric W₀ (``run_irene``'s tune stage, users' summaries) and with each user's own LMNN metric (the
  seed's "idiosyncrasy" arm, which ``run_irene`` does not run: this script runs it with a replica of
  ``training._user`` built from the public functions, changing only the metric the triplets use).
* Figure 10: time (and ticks) until the mean held-out accuracy reaches a fixed level, against the
  dropout of the thinned exchange and the number of users; the replica of ``training._user`` again,
  with a learner that scores the held-out photos every few ticks (that scoring is not timed).
* Figure 11: held-out accuracy against the per-batch ε of Algorithm 2 for δ ∈ {1e-3, 1e-4, 1e-5},
  with the whole run's ε that the users' accountants report.
* Table III: ``model.table3_parameter_counts``.

Common setup (``base_config``): 4 users, λ = 4, β = 0.1, η = 0.05 with momentum 0.9, batches of
32, no dropout, no DP and α = 1 unless the figure varies them; 600 ticks per user on the faces, 200
on the digits. ``--quick`` shrinks every grid and tick count for a smoke run (a few minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyprivml.protocols.irene.training import IreneConfig, run_irene  # noqa: E402

# ---- the seed's own numbers (read from the text of §IV; the figures' curves are not in the text) ----

SEED = {
    "7": "no per-cell numbers in the text; α from 0.8 to 1.0 in steps of 0.05, noise 30-50 % in steps of 2 %; "
         "'above 90% optimal with as many as 44% inconsistent tags'; best α = 0.85",
    "8": {"threshold": 0.99, "collusion_wrong_tag_rate": 0.934, "score_range": (0.0, 4.0)},
    "9": {"before": 0.866, "idiosyncratic_after": 0.84, "commonality_after": 0.921, "periods": (16, 32, 64),
          "beta": 0.001},
    "10": "no absolute times in the text; target 85 % (bootstrap), 91 % (tuning); doubling the users "
          "≈ 1 % faster; +0.1 dropout ≈ 2 % slower; λ = 64, β = 0.001, dropout {0.3, 0.4, 0.5}",
    "11": "no per-point numbers in the text; ε from 0.2 to 1, δ ∈ {1e-3, 1e-4, 1e-5}; a 10× change of δ "
          "moves accuracy by < 0.05 %; lowering ε by 0.2 costs 0.003 (bootstrap) and 0.005 (tuning)",
    "table3": {0.0: 147, 0.3: 108, 0.4: 94, 0.5: 81},
}


# ---- plumbing ---------------------------------------------------------------------------------------

def quiet_absl() -> None:
    """dp-accounting logs a warning per RDP order that does not converge at large sampling rates."""
    logging.getLogger("absl").setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)


def progress(iterable, desc: str, total: int | None = None):
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr, dynamic_ncols=True)


_CACHE: dict = {}


def load(dataset: str, n_views: int = 10, seed: int = 0, per_class: int | None = None):
    """The identity set: ``faces`` (the LFW stand-in with ``n_views`` views per crop) or ``digits``
    (all 1,797, or ``per_class`` photos of each digit drawn with ``seed``)."""
    from pyprivml.protocols.irene import data

    key = (dataset, n_views if dataset == "faces" else per_class, seed)
    if key not in _CACHE:
        if dataset == "faces":
            _CACHE[key] = data.load_lfw_standin(n_views=n_views, seed=seed)
        else:
            digits = data.load_digits_identities()
            if per_class is not None:
                rng = np.random.default_rng(seed)
                keep = np.concatenate([rng.choice(np.flatnonzero(digits.identities == c), per_class, replace=False)
                                       for c in np.unique(digits.identities)])
                digits = digits.subset(np.sort(keep))
            _CACHE[key] = digits
    return _CACHE[key]


def base_config(dataset: str, args, **overrides) -> IreneConfig:
    """The common setup: 4 users, λ = 4, β = 0.1, η = 0.05 with momentum 0.9, batches of 32, no
    dropout and no DP unless a figure varies them, ticks scaled to the set (faces learn slowly)."""
    ticks = {"faces": 600, "digits": 200}[dataset]
    if args.quick:
        ticks = {"faces": 60, "digits": 40}[dataset]
    cfg = dict(users=4, ticks=ticks, period=4, beta=0.1, lr=0.05, momentum=0.9, batch=32, dropout=0.0,
               dp=False, alpha=1.0, tag_noise=0.0, seed=args.seed, timeout=600.0)
    cfg.update(overrides)
    return IreneConfig(**cfg)


def config_dict(cfg: IreneConfig) -> dict:
    import dataclasses

    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


def mean_of(users: list, key: str) -> float:
    return float(np.mean([u[key] for u in users]))


#: seeds averaged per cell unless --repeats says otherwise (digits runs are cheap and noisy)
REPEATS = {("7", "faces"): 1, ("7", "digits"): 3, ("11", "faces"): 1, ("11", "digits"): 1}


def repeats_of(args, figure: str, dataset: str) -> int:
    if args.repeats is not None:
        return args.repeats
    return 1 if args.quick else REPEATS[(figure, dataset)]


def datasets_of(args) -> list[str]:
    return ["faces", "digits"] if args.dataset == "both" else [args.dataset]


# ---- a replica of training._user, from public functions ------------------------------------------------

def replica_role(faceset, cfg: IreneConfig, stages, *, tune_metric: str = "commonality", eval_every=None,
                 start=None):
    """The role of every rank as in :func:`pyprivml.protocols.irene.training.irene_role`, rebuilt from
    the public functions, with two additions the library's role does not have:

    * ``tune_metric="idiosyncratic"``: the tune stage uses each user's own LMNN metric
      (:func:`.metric.lmnn` on its bootstrapped features and tags) instead of MT-LMNN's W₀, and the
      verification after tuning is measured under that metric (the seed's Fig. 9 "LMNN" arm);
    * ``eval_every``: the bootstrapping learner scores the held-out photos every so many ticks and
      records (ticks done, seconds since ``start`` less its own scoring time, accuracy).

    The users return their summaries (with the records) as their rank's result; the server returns a dict.
    """
    import torch

    from pyprivml.protocols.irene.data import split_users, train_test_split
    from pyprivml.protocols.irene.dpsgd import SparseVectorGradient
    from pyprivml.protocols.irene.easgd import SERVER, easgd_server, easgd_user
    from pyprivml.protocols.irene.identity import TagSpace, add_tag_noise
    from pyprivml.protocols.irene.metric import (MTLMNNConfig, lmnn, metric_factor, mtlmnn_coordinator,
                                                 mtlmnn_user)
    from pyprivml.protocols.irene.model import make_model
    from pyprivml.protocols.irene.thinning import ModelThinning
    from pyprivml.protocols.irene.training import TorchLearner
    from pyprivml.protocols.irene.tuning import TripletLearner, normalized_features, verify

    n_classes = cfg.classes or 2 * faceset.n_identities
    mcfg = MTLMNNConfig(k=cfg.metric_k, rounds=cfg.metric_rounds, timeout=cfg.timeout)
    start = time.perf_counter() if start is None else start

    class ScoringLearner(TorchLearner):
        def __init__(self, *a, test_images, test_targets, **kw):
            super().__init__(*a, **kw)
            self.test_images, self.test_targets = test_images, test_targets
            self.scoring, self.records = 0.0, []

        def record(self, done):
            t0 = time.perf_counter()
            acc = self.accuracy(self.test_images, self.test_targets)
            self.records.append((done, t0 - start - self.scoring, acc))
            self.scoring += time.perf_counter() - t0

        def step(self, tick, units):
            if eval_every and tick % eval_every == 0:
                self.record(tick)
            loss = super().step(tick, units)
            if eval_every and tick == cfg.ticks - 1:
                self.record(tick + 1)
            return loss

    def role(transport):
        torch.set_num_threads(1)
        spec = dict(kind=cfg.model, n_classes=n_classes, image_shape=faceset.image_shape,
                    feature_dim=cfg.feature_dim, dropout=cfg.dropout, seed=cfg.seed or 0)
        model = make_model(**spec)
        thinning = ModelThinning(model)
        if transport.rank == SERVER:
            out, centre = {}, TorchLearner.flatten(model)
            if "bootstrap" in stages:
                out["bootstrap"] = easgd_server(transport, centre, cfg, thinning)
                centre = out["bootstrap"].centre
                transport.barrier()
            if "metric" in stages:
                out["metric"] = mtlmnn_coordinator(transport, cfg.users, mcfg)
                transport.barrier()
            if "tune" in stages:
                out["tune"] = easgd_server(transport, centre, cfg.replace(ticks=cfg.tune_ticks), thinning)
                transport.barrier()
            return out
        seed, rank = cfg.seed or 0, transport.rank
        torch.manual_seed(seed * 1000 + rank)
        for p in model.local_parameters().values():
            torch.nn.init.normal_(p, std=0.05)
        mine = split_users(faceset, cfg.users, seed=seed)[rank - 1]
        train, test = train_test_split(mine, cfg.test_fraction, seed=seed * 1000 + rank)
        space = TagSpace(n_classes, key=b"irene-preshared")
        noisy = add_tag_noise(train.tags, cfg.tag_noise, np.random.default_rng(seed * 1000 + rank))
        targets = space.indices(noisy.tags)
        learner = ScoringLearner(model, train.images, targets, cfg, thinning, seed=seed * 1000 + rank,
                                 test_images=test.images, test_targets=space.indices(test.tags))
        rng = np.random.default_rng(seed * 1000 + rank)
        summary = {"user": rank, "photos": len(train)}
        if "bootstrap" in stages:
            easgd_user(transport, learner, cfg, thinning)
            transport.barrier()
            summary.update(accuracy=learner.accuracy(test.images, space.indices(test.tags)),
                           epsilon=learner.epsilon(), records=learner.records)
        if "metric" in stages:
            features = normalized_features(model, train.images)
            result = mtlmnn_user(transport, features, targets, mcfg)
            transport.barrier()
            held_out = normalized_features(model, test.images)
            summary.update(verification_euclidean=verify(held_out, test.identities, np.eye(held_out.shape[1]), rng),
                           verification_own_metric=verify(held_out, test.identities, result.M, rng),
                           verification_commonality=verify(held_out, test.identities, result.W0, rng))
            metric = result.W0
            if tune_metric == "idiosyncratic":
                metric = lmnn(features, targets, k=cfg.metric_k, max_iter=LMNN_ITERATIONS).M
                summary["verification_idiosyncratic"] = verify(held_out, test.identities, metric, rng)
        if "tune" in stages:
            svt = (SparseVectorGradient(epsilon=cfg.tune_epsilon, delta=cfg.tune_delta, batch_size=cfg.tune_batch)
                   if cfg.dp else None)
            tuner = TripletLearner(learner, metric_factor(metric), targets, train.images, lr=cfg.tune_lr,
                                   batch=cfg.tune_batch, margin=cfg.margin, svt=svt, seed=seed * 1000 + rank)
            easgd_user(transport, tuner, cfg.replace(ticks=cfg.tune_ticks), thinning, download=False)
            transport.barrier()
            held_out = normalized_features(model, test.images)
            summary["verification_tuned"] = verify(held_out, test.identities, metric, rng)
        return summary

    return role


#: LMNN steps of the idiosyncratic arm (1,000 by default: ~1 min per user here; 300 reach within
#: a fraction of a per cent of its objective).
LMNN_ITERATIONS = 300


def run_replica(faceset, cfg, stages, **kw):
    from pyprivml.comm import launch

    start = time.perf_counter()
    run = launch(replica_role(faceset, cfg, stages, start=start, **kw), cfg.users + 1, "inprocess")
    return run.results[0], run.results[1:], time.perf_counter() - start


# ---- Figure 7 ----------------------------------------------------------------------------------------

def figure7(args) -> dict:
    noises = (0.0, 0.3, 0.4, 0.5) if not args.quick else (0.0, 0.4)
    alphas = (0.8, 0.9, 1.0) if not args.quick else (0.9, 1.0)
    out = {"figure": "7", "seed": SEED["7"], "runs": {}}
    for ds in datasets_of(args):
        faces = load(ds, 10, args.seed)
        cells = []
        grid = [(n, a) for n in noises for a in alphas]
        repeats = repeats_of(args, "7", ds)
        for noise, alpha in progress(grid, f"Fig. 7 {ds}"):
            accs, per_user, noisy, seconds = [], [], [], 0.0
            for r in range(repeats):
                cfg = base_config(ds, args, tag_noise=noise, alpha=alpha, seed=args.seed + r)
                res = run_irene(faces, cfg, stages=("bootstrap",), transport="inprocess")
                accs.append(mean_of(res.users, "accuracy"))
                per_user.append([u["accuracy"] for u in res.users])
                noisy.append(sum(u["noisy_tags"] for u in res.users) / sum(u["photos"] for u in res.users))
                seconds += res.seconds
            cells.append({"tag_noise": noise, "alpha": alpha, "accuracy": float(np.mean(accs)), "repeats": accs,
                          "per_user": per_user, "noisy_fraction": float(np.mean(noisy)), "seconds": seconds})
        out["runs"][ds] = {"config": config_dict(base_config(ds, args)), "repeats": repeats, "cells": cells}
    return out


def table7(out) -> str:
    lines = []
    for ds, run in out["runs"].items():
        cells = run["cells"]
        noises = sorted({c["tag_noise"] for c in cells})
        alphas = sorted({c["alpha"] for c in cells})
        best = max(c["accuracy"] for c in cells if c["tag_noise"] == 0.0) if 0.0 in noises else None
        lines += [f"{ds}: held-out accuracy, mean over {run['config']['users']} users and {run['repeats']} "
                  f"seed(s) ({run['config']['ticks']} ticks per user)", "",
                  "| tag noise (replaced; really changed) | " + " | ".join(f"α = {a:g}" for a in alphas) + " |",
                  "|---|" + "---|" * len(alphas)]
        for n in noises:
            row = {c["alpha"]: c for c in cells if c["tag_noise"] == n}
            changed = np.mean([c["noisy_fraction"] for c in row.values()])
            txt = []
            for a in alphas:
                acc = row[a]["accuracy"]
                rel = f" ({acc / best:.0%} of best clean)" if best and n > 0 else ""
                txt.append(f"{acc:.1%}{rel}")
            lines.append(f"| {n:.0%}; {changed:.0%} | " + " | ".join(txt) + " |")
        lines.append("")
    lines.append(f"Seed: {SEED['7']}.")
    return "\n".join(lines)


def plot7(out, path):
    from pyprivml.figure import panels, save

    runs = out["runs"]
    fig, axes = panels(len(runs), 5.5 * len(runs))
    for ax, (ds, run) in zip(axes, runs.items()):
        for a in sorted({c["alpha"] for c in run["cells"]}):
            cs = sorted((c for c in run["cells"] if c["alpha"] == a), key=lambda c: c["tag_noise"])
            ax.plot([100 * c["tag_noise"] for c in cs], [100 * c["accuracy"] for c in cs], "o-", label=f"α = {a:g}")
        ax.set_xlabel("tags replaced by random tags (%)")
        ax.set_ylabel("held-out accuracy (%), mean over users")
        ax.set_title(f"{ds} stand-in")
        ax.grid(alpha=0.3)
        ax.legend()
    return save(fig, path, "Irene Fig. 7: noisy bootstrapping (eq. 2) against tag noise")


# ---- Figure 8 ----------------------------------------------------------------------------------------

def _sqdist(A, B):
    D = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(D, 0.0)


def _tagging(gallery, g_ids, queries, q_ids, threshold, *, exclude_same=False):
    """Nearest-neighbour tagging: a query takes the identity of its nearest gallery faceprint if that
    is within ``threshold``, else no tag. Returns (right, wrong identity, no tag) fractions."""
    D = _sqdist(queries, gallery)
    if exclude_same:
        np.fill_diagonal(D, np.inf)
    nn = D.argmin(1)
    within = D[np.arange(len(D)), nn] <= threshold
    right = within & (g_ids[nn] == q_ids)
    return float(right.mean()), float((within & ~right).mean()), float((~within).mean())


def figure8(args) -> dict:
    import torch

    from pyprivml.protocols.irene.data import best_threshold
    from pyprivml.protocols.irene.metric import embed
    from pyprivml.protocols.irene.model import make_model
    from pyprivml.protocols.irene.tuning import normalized_features, verification_pairs

    out = {"figure": "8", "seed": SEED["8"], "runs": {}}
    for ds in progress(datasets_of(args), "Fig. 8"):
        faces = load(ds, 10, args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            cfg = base_config(ds, args, save_dir=tmp)
            res = run_irene(faces, cfg, stages=("bootstrap", "metric"), transport="inprocess")
            users = []
            for k in range(1, cfg.users + 1):
                state = torch.load(Path(tmp) / f"user{k}.pt", weights_only=False)
                model = make_model(**state["spec"])
                model.load_state_dict(state["state"])
                users.append((model, np.asarray(state["L"])))
        # "the same faces": every photo of the set, split by view into a gallery and queries
        ids = faces.identities
        n_views = np.bincount(ids).min()
        view = np.concatenate([np.arange(c) for c in np.bincount(ids)])
        if ds == "digits":                       # 1,797 photos: a fixed random half of each class
            rng0 = np.random.default_rng(args.seed)
            view = rng0.permutation(len(ids)) % 2
            gal, qry = view == 0, view == 1
        else:
            gal, qry = view < n_views // 2, view >= n_views // 2
        feats = [normalized_features(m, faces.images) for m, _ in users]
        prints = [embed(f, L, normalize_output=True) for f, (_, L) in zip(feats, users)]   # on the sphere
        rng = np.random.default_rng(args.seed)
        a, b, same = verification_pairs(ids[gal], rng, 2000)
        thresholds, within, scores = [], [], {"within_same": [], "within_diff": [], "cross_same_photo": [],
                                              "cross_same_identity": []}
        for P in prints:
            G = P[gal]
            d = ((G[a] - G[b]) ** 2).sum(1)
            t = best_threshold(d, same)
            thresholds.append(t)
            within.append(_tagging(G, ids[gal], P[qry], ids[qry], t))
            scores["within_same"] += d[same].tolist()
            scores["within_diff"] += d[~same].tolist()
        cross, cross_photo, metric_only, aligned = [], [], [], []
        K = len(prints)
        n_anchor = min(50, int(gal.sum()))
        anchors = np.flatnonzero(gal)[np.random.default_rng(args.seed + 1).choice(int(gal.sum()), n_anchor, replace=False)]
        for i in range(K):
            for j in range(K):
                if i == j:
                    continue
                PA, PB = prints[i], prints[j]
                cross.append(_tagging(PA[gal], ids[gal], PB[qry], ids[qry], thresholds[i]))
                cross_photo.append(_tagging(PA, ids, PB, ids, thresholds[i]))
                # the metric alone: A's features ψ̂_A through A's factor (gallery) and through B's (queries)
                mA = embed(feats[i], users[i][1], normalize_output=True)
                mB = embed(feats[i], users[j][1], normalize_output=True)
                metric_only.append(_tagging(mA[gal], ids[gal], mB[qry], ids[qry], thresholds[i]))
                # colluders who both hold n_anchor public photos fit a linear map B -> A by least squares
                W, *_ = np.linalg.lstsq(PB[anchors], PA[anchors], rcond=None)
                QB = PB[qry] @ W
                QB /= np.maximum(np.linalg.norm(QB, axis=1, keepdims=True), 1e-12)
                aligned.append(_tagging(PA[gal], ids[gal], QB, ids[qry], thresholds[i]))
                scores["cross_same_photo"] += ((PA - PB) ** 2).sum(1)[:400].tolist()
                scores["cross_same_identity"] += ((PA[gal][a] - PB[gal][b]) ** 2).sum(1)[same][:400].tolist()

        Ms = [L.T @ L for _, L in users]
        spread = [float(np.linalg.norm(Ms[i] - Ms[j]) / np.linalg.norm(Ms[i]))
                  for i in range(K) for j in range(K) if i != j]

        def summ(rows):
            r = np.asarray(rows)
            return {"right": float(r[:, 0].mean()), "wrong_identity": float(r[:, 1].mean()),
                    "no_tag": float(r[:, 2].mean()), "wrong_tag_rate": float(1 - r[:, 0].mean())}

        out["runs"][ds] = {
            "config": config_dict(cfg.replace(save_dir=None)), "seconds": res.seconds,
            "accuracy": mean_of(res.users, "accuracy"), "thresholds": thresholds,
            "gallery": int(gal.sum()), "queries": int(qry.sum()), "anchors": n_anchor,
            "within_user": summ(within), "cross_user": summ(cross), "cross_user_same_photos": summ(cross_photo),
            "cross_user_metric_only": summ(metric_only), "cross_user_aligned": summ(aligned),
            "mean_scores": {k: float(np.mean(v)) for k, v in scores.items()},
            "scores": {k: [round(x, 4) for x in v[:1500]] for k, v in scores.items()},   # for the histograms
            "metric_converged": bool(res.metric.converged), "metric_rounds": res.metric.rounds,
            "metric_spread": float(np.mean(spread))}
    return out


def table8(out) -> str:
    lines = ["| set | search | right tag | wrong identity | no tag within threshold | wrong-tag rate |",
             "|---|---|---|---|---|---|"]
    names = [("within_user", "within a user (its gallery, its queries)"),
             ("cross_user", "across users: A's gallery, B's faceprints of other photos"),
             ("cross_user_same_photos", "across users: the very same photos in both"),
             ("cross_user_metric_only", "across metrics only: A's ψ̂ through L_A vs L_B"),
             ("cross_user_aligned", "across users after a linear map fitted on shared photos")]
    for ds, run in out["runs"].items():
        for key, label in names:
            s = run[key]
            if key == "cross_user_aligned":
                label = label.replace("shared photos", f"{run['anchors']} shared photos")
            lines.append(f"| {ds} | {label} | {s['right']:.1%} | {s['wrong_identity']:.1%} | {s['no_tag']:.1%} | "
                         f"**{s['wrong_tag_rate']:.1%}** |")
    lines.append(f"| seed (LFW) | across users, same threshold | | | | **{SEED['8']['collusion_wrong_tag_rate']:.1%}** |")
    lines.append("")
    for ds, run in out["runs"].items():
        m = run["mean_scores"]
        lines.append(f"{ds}: bootstrapped held-out accuracy {run['accuracy']:.1%}; thresholds (squared distance "
                     f"on the unit sphere, 0..4) {', '.join(f'{t:.3g}' for t in run['thresholds'])} (seed: 0.99); "
                     f"mean score within a user, same identity {m['within_same']:.3g}, different "
                     f"{m['within_diff']:.3g}; across users, the same photo {m['cross_same_photo']:.2f}, the same "
                     f"identity {m['cross_same_identity']:.2f}; gallery {run['gallery']}, queries {run['queries']}; "
                     f"MT-LMNN {run['metric_rounds']} rounds, converged {run['metric_converged']}; users' metrics differ by "
                     f"‖M_A − M_B‖_F / ‖M_A‖_F = {run['metric_spread']:.2f} on average.")
    return "\n".join(lines)


def plot8(out, path):
    from pyprivml.figure import panels, save

    runs = out["runs"]
    fig, axes = panels(2 * len(runs), 5.0 * 2 * len(runs))
    for k, (ds, run) in enumerate(runs.items()):
        s = run["scores"]
        bins = np.linspace(0, 4, 41)
        ax = axes[2 * k]
        ax.hist(s["within_same"], bins, alpha=0.6, density=True, label="same identity")
        ax.hist(s["within_diff"], bins, alpha=0.6, density=True, label="different identities")
        for t in run["thresholds"]:
            ax.axvline(t, color="k", lw=0.5)
        ax.set_title(f"{ds}: within a user")
        ax.set_xlabel("score ‖a − b‖² on the unit sphere")
        ax.legend()
        ax = axes[2 * k + 1]
        ax.hist(s["cross_same_photo"], bins, alpha=0.6, density=True, label="same photo, two users")
        ax.hist(s["cross_same_identity"], bins, alpha=0.6, density=True, label="same identity, two users")
        ax.hist(s["within_same"], bins, histtype="step", density=True, color="k", label="same identity, one user")
        ax.set_title(f"{ds}: across users (wrong tags {run['cross_user']['wrong_tag_rate']:.0%})")
        ax.set_xlabel("score ‖a − b‖² on the unit sphere")
        ax.legend()
    return save(fig, path, "Irene Fig. 8: the same faces through different users' models and MT-LMNN metrics")


# ---- Figure 9 ----------------------------------------------------------------------------------------

def figure9(args) -> dict:
    periods = (2, 4, 8) if not args.quick else (4,)
    out = {"figure": "9", "seed": SEED["9"], "runs": {},
           "scaling": "λ_seed / 8: {16, 32, 64} -> {2, 4, 8} ticks, for both EASGD stages; tune_ticks = 64, "
                      "so each user exchanges 32, 16 or 8 times while tuning"}
    for ds in datasets_of(args):
        # faces: 20 views, so that with 30 % noise every class keeps k + 1 photos; digits: 60 photos of
        # each digit (the metric stage's impostor triplets grow as n², ~10 min per cell with all 1,797)
        faces = load(ds, 20, args.seed, per_class=60)
        cells = []
        grid = [(lam, arm) for lam in periods for arm in ("commonality", "idiosyncratic")]
        for lam, arm in progress(grid, f"Fig. 9 {ds}"):
            cfg = base_config(ds, args, period=lam, tag_noise=0.3, alpha=0.9,
                              tune_ticks=64 if not args.quick else 8, tune_batch=32, tune_lr=0.01)
            try:
                if arm == "commonality":
                    res = run_irene(faces, cfg, transport="inprocess")
                    users, seconds = res.users, res.seconds
                    before = mean_of(users, "verification_commonality")
                else:
                    _, users, seconds = run_replica(faces, cfg, ("bootstrap", "metric", "tune"),
                                                    tune_metric="idiosyncratic")
                    before = mean_of(users, "verification_idiosyncratic")
            except ValueError as exc:       # e.g. a noisy class with fewer than k + 1 photos
                cells.append({"period": lam, "arm": arm, "error": str(exc)})
                continue
            cells.append({"period": lam, "arm": arm, "accuracy": mean_of(users, "accuracy"),
                          "euclidean": mean_of(users, "verification_euclidean"),
                          "own_metric": mean_of(users, "verification_own_metric"),
                          "before": before, "after": mean_of(users, "verification_tuned"),
                          "per_user_before": [u.get("verification_idiosyncratic", u["verification_commonality"])
                                              for u in users],
                          "per_user_after": [u["verification_tuned"] for u in users], "seconds": seconds})
        out["runs"][ds] = {"config": config_dict(base_config(ds, args, tag_noise=0.3, alpha=0.9, tune_ticks=64)),
                           "cells": cells}
    return out


def table9(out) -> str:
    lines = ["| set | λ (seed λ) | tuning metric | bootstrap acc. | verif. Euclidean | verif. M_k (MT-LMNN) | "
             "verif. before tuning | verif. after tuning |", "|---|---|---|---|---|---|---|---|"]
    for ds, run in out["runs"].items():
        for c in run["cells"]:
            if "error" in c:
                lines.append(f"| {ds} | {c['period']} ({8 * c['period']}) | {c['arm']} | failed: {c['error'][:80]} "
                             "| | | | |")
                continue
            name = "W₀ (MT-LMNN commonality)" if c["arm"] == "commonality" else "own LMNN (idiosyncrasy)"
            lines.append(f"| {ds} | {c['period']} ({8 * c['period']}) | {name} | {c['accuracy']:.1%} | "
                         f"{c['euclidean']:.1%} | {c['own_metric']:.1%} | {c['before']:.1%} | **{c['after']:.1%}** |")
    s = out["seed"]
    lines.append(f"| seed (LFW) | 16, 32, 64 | own LMNN | | | | {s['before']:.1%} | ~{s['idiosyncratic_after']:.0%} |")
    lines.append(f"| seed (LFW) | 16, 32, 64 | W₀ (MT-LMNN) | | | | {s['before']:.1%} | ~{s['commonality_after']:.1%} |")
    lines.append("")
    lines.append(f"Scaling of λ: {out['scaling']}.")
    return "\n".join(lines)


def plot9(out, path):
    from pyprivml.figure import panels, save

    runs = out["runs"]
    fig, axes = panels(len(runs), 5.5 * len(runs))
    for ax, (ds, run) in zip(axes, runs.items()):
        for arm, colour in (("commonality", "C0"), ("idiosyncratic", "C3")):
            cs = [c for c in run["cells"] if c["arm"] == arm and "error" not in c]
            lam = [c["period"] for c in cs]
            ax.plot(lam, [100 * c["before"] for c in cs], "o--", color=colour, label=f"{arm}: before tuning")
            ax.plot(lam, [100 * c["after"] for c in cs], "o-", color=colour, label=f"{arm}: after tuning")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("λ, ticks between exchanges (seed's λ / 8)")
        ax.set_ylabel("verification accuracy (%), mean over users")
        ax.set_title(f"{ds} stand-in")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, path, "Irene Fig. 9: fine-tuning with the commonality W₀ vs each user's own LMNN metric")


# ---- Figure 10 ---------------------------------------------------------------------------------------

TARGET = {"faces": 0.5, "digits": 0.85}
TICKS10 = {"faces": 800, "digits": 300}
EVERY10 = {"faces": 25, "digits": 10}


def figure10(args) -> dict:
    dropouts = (0.0, 0.3, 0.5) if not args.quick else (0.0, 0.5)
    user_counts = (2, 4, 8) if not args.quick else (2, 4)
    out = {"figure": "10", "seed": SEED["10"], "runs": {}}
    for ds in datasets_of(args):
        faces = load(ds, 10, args.seed)
        ticks = TICKS10[ds] if not args.quick else 60
        every = EVERY10[ds] if not args.quick else 10
        cells = []
        grid = [(p, k) for p in dropouts for k in user_counts]
        for p, k in progress(grid, f"Fig. 10 {ds}"):
            cfg = base_config(ds, args, dropout=p, users=k, ticks=ticks)
            server, users, seconds = run_replica(faces, cfg, ("bootstrap",), eval_every=every)
            done = sorted({r[0] for r in users[0]["records"]})
            curve = []
            for c in done:
                at = [next(r for r in u["records"] if r[0] == c) for u in users]
                curve.append((c, max(r[1] for r in at), float(np.mean([r[2] for r in at]))))
            hit = next((row for row in curve if row[2] >= TARGET[ds]), None)
            cells.append({"dropout": p, "users": k, "ticks_to_target": None if hit is None else hit[0],
                          "seconds_to_target": None if hit is None else hit[1], "final_accuracy": curve[-1][2],
                          "curve": curve, "seconds": seconds,
                          "kept_fraction": float(np.mean(server["bootstrap"].kept_fraction))})
        out["runs"][ds] = {"config": config_dict(base_config(ds, args, ticks=ticks)), "target": TARGET[ds],
                           "eval_every": every, "cells": cells}
    return out


def table10(out) -> str:
    lines = []
    for ds, run in out["runs"].items():
        cells = run["cells"]
        ks = sorted({c["users"] for c in cells})
        ps = sorted({c["dropout"] for c in cells})
        lines += [f"{ds}: seconds (ticks per user) until the mean held-out accuracy reaches "
                  f"{run['target']:.0%}, scored every {run['eval_every']} ticks, at most {run['config']['ticks']} "
                  f"ticks; in brackets the final accuracy and the fraction of the shared vector one exchange carries",
                  "", "| dropout | " + " | ".join(f"{k} users" for k in ks) + " |", "|---|" + "---|" * len(ks)]
        for p in ps:
            row = []
            for k in ks:
                c = next(c for c in cells if c["users"] == k and c["dropout"] == p)
                head = ("not reached" if c["ticks_to_target"] is None
                        else f"{c['seconds_to_target']:.1f} s ({c['ticks_to_target']} ticks)")
                row.append(f"{head} [{c['final_accuracy']:.0%}; {c['kept_fraction']:.2f}]")
            lines.append(f"| {p:g} | " + " | ".join(row) + " |")
        lines.append("")
    lines.append(f"Seed: {SEED['10']}.")
    return "\n".join(lines)


def plot10(out, path):
    from pyprivml.figure import panels, save

    runs = out["runs"]
    fig, axes = panels(2 * len(runs), 5.0 * 2 * len(runs))
    for k, (ds, run) in enumerate(runs.items()):
        ax = axes[2 * k]
        for c in run["cells"]:
            curve = np.asarray(c["curve"])
            ax.plot(curve[:, 1], 100 * curve[:, 2], label=f"p = {c['dropout']:g}, {c['users']} users")
        ax.axhline(100 * run["target"], color="k", lw=0.5)
        ax.set_xlabel("seconds (scoring excluded)")
        ax.set_ylabel("held-out accuracy (%), mean over users")
        ax.set_title(f"{ds}: bootstrapping")
        ax.legend(fontsize=6)
        ax = axes[2 * k + 1]
        ks = sorted({c["users"] for c in run["cells"]})
        for p in sorted({c["dropout"] for c in run["cells"]}):
            ys = [next(c for c in run["cells"] if c["users"] == u and c["dropout"] == p)["seconds_to_target"]
                  for u in ks]
            ax.plot(ks, [np.nan if y is None else y for y in ys], "o-", label=f"dropout {p:g}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("users")
        ax.set_ylabel(f"seconds to {run['target']:.0%} held-out accuracy")
        ax.set_title(f"{ds}: time to {run['target']:.0%}")
        ax.legend()
    return save(fig, path, "Irene Fig. 10: time to a fixed accuracy against dropout and users")


# ---- Figure 11 ---------------------------------------------------------------------------------------

def figure11(args) -> dict:
    epsilons = (0.2, 0.5, 1.0) if not args.quick else (1.0,)
    deltas = (1e-3, 1e-4, 1e-5) if not args.quick else (1e-3,)
    out = {"figure": "11", "seed": SEED["11"], "runs": {}}
    for ds in datasets_of(args):
        faces = load(ds, 10, args.seed)
        # γ₁ = 1 rather than the seed's 0.01: with every per-sample gradient clipped, γ₁ and η enter
        # only as their product (the noise scales with γ₁), and η = 0.05 · γ₁ = 0.01 barely moves in
        # a few hundred ticks. Digits: 2 users of ~670 photos each, batches of 128 (q ≈ 0.19).
        over = (dict(users=2, batch=128, ticks=300, clip=1.0) if ds == "digits"
                else dict(batch=64, ticks=300, clip=1.0))
        if args.quick:
            over["ticks"] = 20
        cells = []
        grid = [(None, None)] + [(e, d) for d in deltas for e in epsilons]
        if ds == "faces" and not args.quick:
            grid = [(None, None), (1.0, 1e-3)]      # one cell: the faces do not learn under DP at ε <= 1
        for eps, delta in progress(grid, f"Fig. 11 {ds}"):
            cfg = base_config(ds, args, **over) if eps is None else base_config(
                ds, args, dp=True, epsilon=eps, delta=delta, **over)
            accs, per_user, run_eps, seconds = [], [], [], 0.0
            for r in range(repeats_of(args, "11", ds)):
                res = run_irene(faces, cfg.replace(seed=args.seed + r), stages=("bootstrap",), transport="inprocess")
                accs.append(mean_of(res.users, "accuracy"))
                per_user.append([u["accuracy"] for u in res.users])
                run_eps += [u["epsilon"] for u in res.users]
                seconds += res.seconds
            cells.append({"epsilon_per_batch": eps, "delta": delta, "accuracy": float(np.mean(accs)), "repeats": accs,
                          "per_user": per_user, "run_epsilon": run_eps, "seconds": seconds})
        out["runs"][ds] = {"config": config_dict(base_config(ds, args, **over)), "repeats": repeats_of(args, "11", ds),
                           "cells": cells}
    return out


def table11(out) -> str:
    lines = ["| set | per-batch ε | δ | held-out accuracy | the whole run's ε at that δ (users' accountants) |",
             "|---|---|---|---|---|"]
    for ds, run in out["runs"].items():
        for c in run["cells"]:
            if c["epsilon_per_batch"] is None:
                lines.append(f"| {ds} | no DP | | {c['accuracy']:.1%} | |")
            else:
                e = c["run_epsilon"]
                lines.append(f"| {ds} | {c['epsilon_per_batch']:g} | {c['delta']:g} | {c['accuracy']:.1%} | "
                             f"{min(e):.1f} to {max(e):.1f} |")
    lines.append("")
    lines.append(f"Seed: {SEED['11']}.")
    return "\n".join(lines)


def plot11(out, path):
    from pyprivml.figure import panels, save

    runs = out["runs"]
    fig, axes = panels(len(runs), 5.5 * len(runs))
    for ax, (ds, run) in zip(axes, runs.items()):
        ref = [c for c in run["cells"] if c["epsilon_per_batch"] is None]
        for d in sorted({c["delta"] for c in run["cells"] if c["delta"] is not None}, reverse=True):
            cs = sorted((c for c in run["cells"] if c["delta"] == d), key=lambda c: c["epsilon_per_batch"])
            ax.plot([c["epsilon_per_batch"] for c in cs], [100 * c["accuracy"] for c in cs], "o-", label=f"δ = {d:g}")
        if ref:
            ax.axhline(100 * ref[0]["accuracy"], color="k", ls="--", lw=0.8, label="no DP")
        dp_cells = [c for c in run["cells"] if c["epsilon_per_batch"] is not None]
        if len(dp_cells) == 1:                      # the faces grid of a full run: say why it is one point
            ax.annotate(f"only ε = {dp_cells[0]['epsilon_per_batch']:g}, δ = {dp_cells[0]['delta']:g} run:\n"
                        "at chance there, so smaller ε were skipped", (0.5, 0.5), xycoords="axes fraction",
                        ha="center")
        ax.set_xlim(0.1, 1.1)
        ax.set_ylim(0, 100)
        ax.set_xlabel("ε per batch (Algorithm 2)")
        ax.set_ylabel("held-out accuracy (%), mean over users")
        ax.set_title(f"{ds} stand-in")
        ax.grid(alpha=0.3)
        ax.legend()
    return save(fig, path, "Irene Fig. 11: bootstrapping accuracy against (ε, δ) per batch")


# ---- Table III ---------------------------------------------------------------------------------------

def table3(args) -> dict:
    from pyprivml.protocols.irene.model import table3_parameter_counts

    rows = []
    for p in (0.0, 0.3, 0.4, 0.5):
        counts = table3_parameter_counts(p)
        rows.append({"dropout": p, **counts, "seed_millions": SEED["table3"][p]})
    return {"figure": "table3", "rows": rows}


def table_t3(out) -> str:
    lines = ["| dropout | ours: total (conv + fully connected + φ) | millions | seed (bootstrap and tuning) |",
             "|---|---|---|---|"]
    for r in out["rows"]:
        lines.append(f"| {r['dropout']:g} | {r['total']:,} ({r['conv']:,} + {r['fully_connected']:,} + "
                     f"{r['embedding']:,}) | {r['total'] / 1e6:.2f} M | {r['seed_millions']} million |")
    return "\n".join(lines)


def plot_t3(out, path):
    from pyprivml.figure import panels, save

    fig, (ax,) = panels(1, 5.5)
    ps = [r["dropout"] for r in out["rows"]]
    ax.plot(ps, [r["total"] / 1e6 for r in out["rows"]], "o-", label="ours (Table II modules)")
    ax.plot(ps, [r["seed_millions"] for r in out["rows"]], "x--", label="seed Table III")
    ax.set_xlabel("dropout rate")
    ax.set_ylabel("parameters after dropout (millions)")
    ax.legend()
    return save(fig, path, "Irene Table III")


FIGURES = {"7": (figure7, table7, plot7), "8": (figure8, table8, plot8), "9": (figure9, table9, plot9),
           "10": (figure10, table10, plot10), "11": (figure11, table11, plot11),
           "table3": (table3, table_t3, plot_t3)}


def machine() -> dict:
    info = {"python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    with contextlib.suppress(Exception):
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU family", "Model", "CPU(s)"):
                info[key.strip()] = value.strip()
    with contextlib.suppress(Exception):
        import torch

        info["torch"] = torch.__version__
    return info


#: glibc malloc settings under which large arrays are not mmap-ed and unmapped anew each step. A DP
#: step allocates the (batch × parameters) per-sample gradients and their clipped copy (~50-100 MB
#: here) and frees them; by default glibc maps and unmaps such blocks, and the page faults made
#: most of a step's time kernel time (digits, batch 128, 30 steps: 3.19 s, of which 1.84 s in the
#: kernel; with these settings 1.29 s, 0.08 s in the kernel). Results are unchanged; only time moves.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(4 << 30), "MALLOC_TRIM_THRESHOLD_": str(16 << 30)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--figure", required=True, choices=(*FIGURES, "all"))
    p.add_argument("--dataset", default="both", choices=("faces", "digits", "both"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a smoke run: tiny grids and few ticks")
    p.add_argument("--repeats", type=int, default=None,
                   help="Figures 7 and 11: average each cell over this many seeds (default: Fig. 7 faces 1, "
                        "digits 3; Fig. 11 1)")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--plot", default=None, help="write the plot to this PNG file")
    p.add_argument("--out-dir", default=None, help="with --figure all: irene_<figure>.json/.png there")
    p.add_argument("--from-json", default=None, metavar="JSON",
                   help="print the table and draw --plot from a JSON this script wrote, without running")
    p.add_argument("--no-malloc-tuning", dest="malloc_tuning", action="store_false",
                   help="keep glibc's default malloc settings (DP steps then spend most of their time in page faults)")
    args = p.parse_args(argv)
    if args.from_json:
        if args.figure == "all":
            p.error("--from-json needs one --figure")
        out = json.loads(Path(args.from_json).read_text())
        _, table, plot = FIGURES[args.figure]
        print(table(out))
        if args.plot:
            plot(out, args.plot)
        return 0
    if (argv is None and args.malloc_tuning and sys.platform.startswith("linux")
            and any(os.environ.get(k) != v for k, v in MALLOC_ENV.items())):
        # the settings are read when the process starts: run this script again with them
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                  {**os.environ, **MALLOC_ENV})
    quiet_absl()
    names = list(FIGURES) if args.figure == "all" else [args.figure]
    if len(names) > 1 and (args.json or args.plot):
        p.error("--json and --plot name one figure's files; use --out-dir with --figure all")
    info = machine()
    info["malloc"] = {k: os.environ.get(k) for k in MALLOC_ENV}
    info["command"] = " ".join([os.path.relpath(sys.argv[0]) if argv is None else "reproduce_irene.py",
                                *(sys.argv[1:] if argv is None else argv)])
    for name in names:
        run, table, plot = FIGURES[name]
        t0 = time.perf_counter()
        out = run(args)
        out.update(machine=info, seconds=time.perf_counter() - t0, quick=args.quick)
        label = "Table III" if name == "table3" else f"Figure {name}"
        print(f"\n### {label} ({out['seconds']:.0f} s)\n")
        print(table(out))
        json_path, png_path = args.json, args.plot
        if args.out_dir:
            Path(args.out_dir).mkdir(parents=True, exist_ok=True)
            stem = "irene_table3" if name == "table3" else f"irene_figure{name}"
            json_path, png_path = (os.path.join(args.out_dir, f"{stem}.json"),
                                   os.path.join(args.out_dir, f"{stem}.png"))
        if json_path:
            Path(json_path).write_text(json.dumps(out, indent=1, default=float))
        if png_path:
            plot(out, png_path)
            print(f"\nplot: {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
