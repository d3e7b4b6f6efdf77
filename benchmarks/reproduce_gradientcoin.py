"""GradientCoin reproductions for docs/RESULTS.md (seed 002 Theorem 15, Algorithm 5 / Theorem 60,
and the Bitcoin whitepaper's §11 attacker table).

    .venv/bin/python benchmarks/reproduce_gradientcoin.py --json docs/img/gradientcoin.json \
        --plot-dir docs/img            # about a minute on 2 cores
    .venv/bin/python benchmarks/reproduce_gradientcoin.py --quick      # a smoke run

* **Theorem 15** (linear convergence): six peers on the seeded event network (delays 0.1-0.3 s,
  a block a second, so forks and reorganisations happen), each block one peer's K = 2 local
  steps on its own share; the loss gap L(x_t) − L* of the agreed chain against the height t, the
  fitted rate ρ of log gap ≈ c + t log ρ from t = 0 until the gap first comes within 10× of its
  floor, and that floor (the median gap over the last third): a block is one user's step on
  f_c, whose gradient does not vanish at the optimum of L, so a constant η converges linearly to a
  neighbourhood whose size scales with η (the "ridge, η / 10" row, run 4× as long).
* **Sketches** (Algorithm 5): the logistic objective (d = 30) with plain updates and with count
  sketches and Gaussian sketches of several b; bytes of the update payload a block carries
  against the gap at the final height, beside Theorem 60's variance factor 1 + a·d/b measured by
  :func:`payload.sketch_variance_factor`.
* **The attacker race**: the whitepaper's table (q = 0.1 and 0.3), our formula, the exact
  negative-binomial race and the simulated race (10⁵ trials each).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyprivml.protocols.gradientcoin import payload  # noqa: E402
from pyprivml.protocols.gradientcoin.attack import (  # noqa: E402
    WHITEPAPER_TABLE, attacker_success_probability, simulate_attacker_race,
)
from pyprivml.protocols.gradientcoin.cli import objective_optimum  # noqa: E402
from pyprivml.protocols.gradientcoin.run import (  # noqa: E402
    EASY_BITS, GradientCoinConfig, default_lr, make_objective, simulate,
)

NETWORK = dict(delay=0.1, jitter=0.2, block_time=1.0)


def _gaps(net, loss, seed):
    objective = make_objective(loss, seed)
    optimum = objective_optimum(objective)
    peer = next(iter(net.peers.values()))
    gaps = [objective.value(x) - optimum for _, x in peer.chain.models()]
    return np.array(gaps), optimum, peer


def _rate(gaps) -> tuple[float, float, float, int]:
    """(ρ, R², floor, heights fitted): log gap ≈ c + t log ρ fitted from t = 0 until the gap
    first comes within 10× of its floor (the median gap over the last third of the run)."""
    floor = float(np.median(gaps[2 * len(gaps) // 3:]))
    below = np.flatnonzero(gaps < 10 * floor)
    end = max(int(below[0]) if below.size else len(gaps), 3)
    t = np.arange(end)
    y = np.log(gaps[:end])
    slope, intercept = np.polyfit(t, y, 1)
    r2 = 1 - np.sum((y - (slope * t + intercept)) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-300)
    return float(np.exp(slope)), float(r2), floor, end


def theorem15(height: int, seed: int) -> dict:
    out = {}
    for name, loss, scale in (("softmax", "softmax", 1), ("ridge", "ridge", 1), ("ridge, η / 10", "ridge", 0.1),
                              ("logistic", "logistic", 1)):
        t0 = time.perf_counter()
        objective = make_objective(loss, seed)
        cfg = GradientCoinConfig(peers=6, loss=loss, height=height if scale == 1 else 4 * height, seed=seed,
                                 bits=EASY_BITS, maturity=5, lr=scale * default_lr(objective))
        net = simulate(cfg, **NETWORK)
        gaps, optimum, peer = _gaps(net, loss, seed)
        rho, r2, floor, fitted = _rate(gaps)
        extra = {}
        if loss == "softmax":
            extra = {"lemma14_mu": objective.lemma14_mu(), "summed_bound": objective.strong_convexity_bound()}
        out[name] = {"height": peer.chain.height, "optimum": optimum, "gaps": gaps.tolist(), "rate": rho,
                     "r2": r2, "floor": floor, "fitted_heights": fitted, "lr": cfg.lr, "reorganisations": sum(len(p.chain.reorganisations) for p in net.peers.values()),
                     "payments": sum(p.stats.payments for p in net.peers.values()), "lost": net.lost,
                     "seconds": time.perf_counter() - t0, **extra}
    return out


def sketches(height: int, seed: int, bs) -> dict:
    rows = []
    d = make_objective("logistic", seed).dim
    for kind, b in [(None, None)] + [(k, b) for k in ("countsketch", "gaussian") for b in bs]:
        cfg = GradientCoinConfig(peers=6, loss="logistic", height=height, seed=seed, bits=EASY_BITS, maturity=5,
                                 sketch=kind, b=b, payment=0.0)
        net = simulate(cfg, **NETWORK)
        gaps, _, peer = _gaps(net, "logistic", seed)
        size = len(peer.chain.block_at(1).update.to_bytes())
        factor = None if kind is None else payload.sketch_variance_factor(kind, d, b, trials=200, seed=seed)
        rows.append({"sketch": kind or "none", "b": b or d, "payload_bytes": size, "gap_final": float(gaps[-1]),
                     "gap_start": float(gaps[0]), "height": peer.chain.height, "variance_factor": factor,
                     "expected_factor": None if kind is None else 1 + d / b})
    return {"d": d, "rows": rows}


def attacker(trials: int) -> dict:
    rows = []
    for q, table in WHITEPAPER_TABLE.items():
        for z, paper in table.items():
            rows.append({"q": q, "z": z, "whitepaper": paper, "formula": attacker_success_probability(q, z),
                         "exact": attacker_success_probability(q, z, model="negative-binomial"),
                         "simulated": simulate_attacker_race(q, z, trials, seed=z), "trials": trials})
    return {"rows": rows}


def _factor(value):
    return "" if value is None else (f"{value[0]:.2f}" if isinstance(value, (list, tuple)) else f"{value:.2f}")


def tables(out) -> str:
    lines = ["| objective | η | blocks | rate ρ per block (heights fitted) | R² | L(x₀) − L* | floor (median gap, "
             "last third) | reorganisations (all peers) | payments |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in out["theorem15"].items():
        lines.append(f"| {name} | {r['lr']:.3g} | {r['height']} | {r['rate']:.4f} (0-{r['fitted_heights']}) | "
                     f"{r['r2']:.3f} | {r['gaps'][0]:.3g} | {r['floor']:.3g} | {r['reorganisations']} | "
                     f"{r['payments']} |")
    lines += ["", "| sketch | b | payload bytes / block | final gap | measured variance factor | 1 + d/b |",
              "|---|---|---|---|---|---|"]
    for r in out["sketches"]["rows"]:
        lines.append(f"| {r['sketch']} | {r['b']} | {r['payload_bytes']} | {r['gap_final']:.3g} | "
                     f"{_factor(r['variance_factor'])} | {_factor(r['expected_factor'])} |")
    lines += ["", "| q | z | whitepaper | our formula | exact race (NB) | simulated |", "|---|---|---|---|---|---|"]
    for r in out["attacker"]["rows"]:
        lines.append(f"| {r['q']} | {r['z']} | {r['whitepaper']:.7f} | {r['formula']:.7f} | {r['exact']:.7f} | "
                     f"{r['simulated']:.5f} |")
    return "\n".join(lines)


def plot(out, directory: Path) -> list:
    from pyprivml.figure import panels, save

    paths = []
    fig, (a, b) = panels(2, 11)
    for loss, r in out["theorem15"].items():
        g = np.maximum(np.array(r["gaps"]) / r["gaps"][0], 1e-17)
        a.semilogy(g, label=f"{loss}: ρ = {r['rate']:.3f}")
        a.axhline(r["floor"] / r["gaps"][0], lw=0.6, ls=":", color=a.lines[-1].get_color())
    a.set_xlabel("block height t")
    a.set_ylabel("(L(x_t) − L*) / (L(x₀) − L*)")
    a.set_title("Theorem 15: linear rate along the agreed chain")
    a.grid(alpha=0.3)
    a.legend()
    rows = out["sketches"]["rows"]
    for kind, marker in (("countsketch", "o-"), ("gaussian", "s-")):
        rs = [r for r in rows if r["sketch"] == kind]
        b.loglog([r["payload_bytes"] for r in rs], [r["gap_final"] for r in rs], marker, label=kind)
    plain = [r for r in rows if r["sketch"] == "none"][0]
    b.loglog([plain["payload_bytes"]], [plain["gap_final"]], "k*", ms=12, label="plain Δx")
    b.set_xlabel("payload bytes per block")
    b.set_ylabel(f"loss gap after {plain['height']} blocks")
    b.set_title("Algorithm 5: sketched updates (logistic, d = 30)")
    b.grid(alpha=0.3)
    b.legend()
    paths.append(save(fig, str(directory / "gradientcoin_convergence.png"), "GradientCoin (seed 002), 6 peers"))
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.add_argument("--plot-dir", default=None)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    height = 20 if args.quick else 150
    out = {"theorem15": theorem15(height, args.seed),
           "sketches": sketches(height, args.seed, (5, 10) if args.quick else (3, 5, 10, 15, 20)),
           "attacker": attacker(2_000 if args.quick else 100_000)}
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "")
    out["machine"] = {"cpu": model, "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                              time.gmtime())}
    out["seconds"] = time.perf_counter() - t0
    out["command"] = " ".join(["benchmarks/reproduce_gradientcoin.py", *(argv or sys.argv[1:])])
    print(tables(out))
    print(f"\n({out['seconds']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if args.plot_dir:
        for path in plot(out, Path(args.plot_dir)):
            print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
