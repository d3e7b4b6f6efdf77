"""The ``pyprivml`` command line (also ``python -m pyprivml``).

Subcommands::

    pyprivml demo                                  # kernels on digits 4-vs-9: quantise, encode, decode
    pyprivml train codedprivateml --dataset digits49 --workers 12 --case 2 --iters 50 --report out.json
    mpiexec -n 13 pyprivml train codedprivateml --dataset digits49 --case 2 --iters 50
    pyprivml plot out.json [more.json ...] -o curves.png

Protocols plug in through :data:`PROTOCOLS`, one line each: ``name -> "module:function"``. The
function takes the parsed arguments and the run context (:mod:`pyprivml.protocols.runner`, which
also adds the options every protocol shares) and returns a :class:`~pyprivml.report.Report` on
rank 0 (None on other MPI ranks); its module's ``add_arguments(parser)`` adds the protocol's own
options to ``pyprivml train NAME``. Other subcommands register in :data:`COMMANDS` the same way
(``name -> "module:function"``, the function taking the subparsers object to add itself). Bad
parameters anywhere end the command with one line on stderr and exit status 2.

>>> parse_straggle("3:0.5,7:inf")
{3: 0.5, 7: inf}
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

__all__ = ["main", "PROTOCOLS", "COMMANDS", "parse_straggle", "build_parser"]

#: Protocol name -> "module:function" run by ``pyprivml train NAME``: ``function(args, ctx)`` with
#: ctx a :class:`pyprivml.protocols.runner.RunContext`; the module's ``add_arguments(parser)`` adds
#: the protocol's own options to the runner's.
PROTOCOLS = {
    "codedprivateml": "pyprivml.protocols.codedprivateml.cli:train",
    "bgw": "pyprivml.protocols.mpc.cli:train_bgw",
    "bh08": "pyprivml.protocols.mpc.cli:train_bh08",
    "gal": "pyprivml.protocols.gal.cli:train",
    "irene": "pyprivml.protocols.irene.cli:train",
    "gradientcoin": "pyprivml.protocols.gradientcoin.cli:train",
}

#: Extra subcommands: name -> "module:function(subparsers)" that registers it.
COMMANDS: dict = {
    "compare": "pyprivml.protocols.compare:register",
    "irene": "pyprivml.protocols.irene.cli:register",
    "chain": "pyprivml.protocols.gradientcoin.cli:register",
    "bench": "pyprivml.backends.autotune:register",
}


def _resolve(spec: str):
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def parse_straggle(text: str | None) -> dict:
    """``"RANK:SECONDS,..."`` -> {rank: seconds} (CodedPrivateML's ``--straggle``)."""
    from .protocols.codedprivateml.cli import parse_straggle as parse

    return parse(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyprivml", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="kernel demo: quantise, Lagrange-encode and decode digits 4-vs-9")
    demo.add_argument("--workers", type=int, default=7, help="N of the demo code")
    train = sub.add_parser("train", help="train a model with a protocol (in-process, simulated or under mpiexec)")
    train.add_argument("protocol", choices=sorted(PROTOCOLS), help="the protocol to train with")
    plot = sub.add_parser("plot", help="PNG curves of accuracy and loss from JSON reports")
    plot.add_argument("reports", nargs="+", help="report files written by train --report, or "
                      "time-against-N files written by benchmarks/simulate_figure3.py --json")
    plot.add_argument("-o", "--output", default=None, help="PNG path (default: first report with .png)")
    for spec in COMMANDS.values():
        _resolve(spec)(sub)
    return parser


def train_parser(protocol: str) -> argparse.ArgumentParser:
    """The options of ``pyprivml train PROTOCOL``: the runner's, then the protocol's own."""
    from .protocols.runner import add_common_arguments

    parser = argparse.ArgumentParser(prog=f"pyprivml train {protocol}")
    add_common_arguments(parser)
    importlib.import_module(PROTOCOLS[protocol].partition(":")[0]).add_arguments(parser)
    return parser


def _train(argv) -> int:
    protocol = argv[1]
    args = train_parser(protocol).parse_args(argv[2:])
    from .protocols.runner import RunContext

    try:
        report = _resolve(PROTOCOLS[protocol])(args, RunContext.from_args(args))
    except (ValueError, TypeError, TimeoutError) as exc:  # bad parameters, a failed wrap-around proof, dead workers
        print(f"pyprivml train {protocol}: error: {exc}", file=sys.stderr)
        return 2
    if report is None:  # a worker rank of an MPI run
        return 0
    print_summary(report)
    if args.report:
        report.save(args.report)
        print(f"report written to {args.report}")
    return 0


def print_summary(report) -> None:
    """The final table: accuracy beside the float baseline, seconds per phase (Table II columns)."""
    from .report import format_table

    params = report.parameters
    names = ("N", "K", "T", "r", "lx", "lw", "lc", "primes" if len(params.get("primes") or ()) > 1 else "p",
             "iterations")
    head = ", ".join(f"{k}={params[k]}" for k in names if k in params)
    print(f"{report.protocol} on {report.dataset}: {head}")
    print(format_table([report.summary_row()]))
    for w in report.meta.get("warnings", []):
        print(f"warning: {w}")


def _plot(args) -> int:
    import json

    from .plot import plot_reports, plot_scaling
    from .report import Report

    out = args.output or args.reports[0].rsplit(".", 1)[0] + ".png"
    with open(args.reports[0]) as fh:
        first = json.load(fh)
    if "rows" in first:  # a time-against-N file (benchmarks/simulate_figure3.py --json)
        rows = [row for path in args.reports for row in json.load(open(path))["rows"]]
        plot_scaling(rows, out, title=first.get("network") and f"network: {first['network']}")
    else:
        plot_reports([Report.load(p) for p in args.reports], out)
    print(f"wrote {out}")
    return 0


def demo(n_workers: int = 7) -> int:
    """Quantise digits 4-vs-9, Lagrange-encode it for N workers, compute one coded gradient at
    every worker, decode it from the fastest threshold of them and check it against the plaintext."""
    import numpy as np

    from .data import load_digits49
    from .lagrange import LagrangeCode
    from .linalg import modcombine
    from .protocols.codedprivateml import CodedPrivateMLConfig, plaintext_gradient_field, worker_compute
    from .quantization import quantize, quantize_stochastic
    from .report import format_table

    ds = load_digits49()
    cfg = CodedPrivateMLConfig(n_workers=n_workers, case=1, seed=0)
    K, T = cfg.K_T()
    plan = cfg.plan()
    F = plan.field
    rows = []

    def step(name, fn, *a, **kw):
        start = time.perf_counter()
        out = fn(*a, **kw)
        rows.append({"step": name, "ms": f"{1e3 * (time.perf_counter() - start):.2f}"})
        return out

    code = LagrangeCode(F, n_workers, K, T)
    w = np.linspace(-0.5, 0.5, ds.X_train.shape[1])
    coeffs = plan.field_coefficients()
    need = cfg.recovery_threshold()
    for timed in (False, True):  # the first pass compiles the JIT kernels; the second is timed
        rows.clear()
        Xbar = step("quantise X (eq. 4)", quantize, ds.X_train, cfg.lx, F)
        Xt = step(f"LCC-encode X for N={n_workers}, K={K}, T={T} (eq. 9)", code.encode, Xbar)
        Wbar = step("quantise w stochastically (eq. 7)", quantize_stochastic, w, cfg.lw, F, copies=plan.r, seed=0)
        Wt = step("LCC-encode W (eq. 12)", code.encode_replicated, Wbar)
        results = step("N worker gradients f(X~_i, W~_i) (eq. 18)",
                       lambda: {i: worker_compute(Xt[i], Wt[i], coeffs, F) for i in range(n_workers)})
        fastest = dict(list(results.items())[::-1][:need])  # any `need` workers will do
        blocks = step(f"decode from {need} workers (eq. 21)", code.decode, fastest, 2 * plan.r + 1)
    decoded = modcombine(np.ones((1, len(blocks)), dtype=np.int64), np.asarray(blocks), F)[0]  # eq. (22)
    exact = plaintext_gradient_field(Xbar, Wbar, cfg)
    print(f"digits 4-vs-9: m={Xbar.shape[0]}, d={Xbar.shape[1]}, p={F.p}, lx={cfg.lx}, lw={cfg.lw}, "
          f"lc={plan.lc}, final exponent l={plan.exponent}")
    print(format_table(rows))
    ok = bool(np.array_equal(decoded, exact))
    print(f"decoded gradient equals the plaintext X^T s(X, W) over F_p: {ok}")
    return 0 if ok else 1


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] == "train" and len(argv) > 1 and argv[1] in PROTOCOLS:
        return _train(argv)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.workers)
    if args.command == "plot":
        return _plot(args)
    if args.command == "train":  # unreachable with a valid protocol; argparse reported the error
        return 2
    if not hasattr(args, "func"):
        return 2
    try:
        return args.func(args)
    except (ValueError, TypeError, TimeoutError) as exc:
        print(f"pyprivml {args.command}: error: {exc}", file=sys.stderr)
        return 2
