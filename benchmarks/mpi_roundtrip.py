"""Small-message round trips over MPI, and the per-message software cost of MPICH's paths.

Run under ``mpiexec``, the script measures on rank 0

* round trips of an 8-element int64 array and of a small dict through
  :class:`pyprivml.comm.mpi.MPITransport` ``send``/``recv`` (the header + raw-buffer protocol,
  receives as the transport does them), and of the same array through raw mpi4py ``Send``/``Recv``
  (blocking) and of the dict through raw ``send``/``recv`` (pickled, blocking), for comparison.
  With more than two ranks rank 0 ping-pongs worker 1, 2, ... in turn while the other workers wait
  in their receives: with ``-n 10`` on a 2-core machine that shows what waiting receivers cost the
  ranks that work (a blocking MPICH receive spins on a core);
* with two ranks, the round-trip time of raw ``Send``/``Recv`` and of the transport against the
  message size, 8 B .. 1 MiB, and a straight-line fit ``RTT = a + b * bytes`` weighted by 1/RTT:
  ``a / 2`` is the per-message software cost (the fixed cost of one one-way message independent
  of its size) and ``2 / b`` the bandwidth.

It prints medians and quartiles in µs, the CPU model, which path MPICH took and the evidence for
it (established TCP sockets of this process, shared-memory mappings). Environment variables must
be set before MPI starts, so the MPICH path is chosen by the caller::

    mpiexec -n 2 .venv/bin/python benchmarks/mpi_roundtrip.py                 # shared memory
    mpiexec -n 10 .venv/bin/python benchmarks/mpi_roundtrip.py                # oversubscribed
    MPIR_CVAR_NOLOCAL=1 UCX_TLS=tcp mpiexec -n 2 .venv/bin/python benchmarks/mpi_roundtrip.py
    MPIR_CVAR_NOLOCAL=1 MPIR_CVAR_CH4_NETMOD=ofi FI_PROVIDER=tcp mpiexec -n 2 ...

or, without mpiexec, ``--sweep`` launches every configuration (``--repeat`` times; medians of the
runs' medians are reported) and ``--json OUT`` writes all numbers::

    .venv/bin/python benchmarks/mpi_roundtrip.py --sweep --ranks 2 10 --repeat 3 --json /tmp/rt.json

What the wheel's MPICH (5.0.2, ``ch4:ucx,ofi``, UCX the default netmod) honours: ch4 has no
``MPIR_CVAR_CH4_SHM_ENABLE`` and ignores the ch3 variables (``MPIR_CVAR_CH3_NOLOCAL``);
``MPIR_CVAR_NOLOCAL=1`` makes ranks on one host treat each other as remote, so ch4's POSIX
shared memory is off, but UCX then still moves the bytes through its own shared-memory
transports; ``UCX_TLS=tcp`` on top (or ``MPIR_CVAR_CH4_NETMOD=ofi FI_PROVIDER=tcp``, libfabric's
tcp provider) forces TCP sockets over the kernel's loopback path. ``--module FILE`` measures
another version of pyprivml/comm/mpi.py (e.g. ``git show HEAD:pyprivml/comm/mpi.py``) instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COMM_DIR = ROOT / "pyprivml" / "comm"

#: name -> environment that selects the MPICH path (set before mpiexec starts the ranks).
PATHS = {
    "shm": {},
    "nolocal-ucx": {"MPIR_CVAR_NOLOCAL": "1"},
    "tcp-ucx": {"MPIR_CVAR_NOLOCAL": "1", "UCX_TLS": "tcp"},
    "tcp-ofi": {"MPIR_CVAR_NOLOCAL": "1", "MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "tcp"},
}
PATH_VARIABLES = ("MPIR_CVAR_NOLOCAL", "MPIR_CVAR_CH4_NETMOD", "MPIR_CVAR_CH4_SHM", "UCX_TLS", "FI_PROVIDER")
DESCRIPTIONS = {
    "shm": "MPICH ch4 POSIX shared memory (the default between ranks of one host)",
    "nolocal-ucx": "MPIR_CVAR_NOLOCAL=1: ch4 shm off, UCX netmod with UCX's own intra-node transports",
    "tcp-ucx": "MPIR_CVAR_NOLOCAL=1 UCX_TLS=tcp: UCX netmod over loopback TCP sockets",
    "tcp-ofi": "MPIR_CVAR_NOLOCAL=1 MPIR_CVAR_CH4_NETMOD=ofi FI_PROVIDER=tcp: libfabric tcp over loopback",
}
SIZES = [8 * 4 ** k for k in range(9)] + [1 << 20]  # 8 B .. 512 KiB by x4, and 1 MiB
TAGS = {"transport ndarray int64[8]": 11, "transport dict": 12, "raw Send/Recv int64[8]": 13,
        "raw send/recv dict": 14}
STOP_TAG = 99
SMALL_DICT = {"iteration": 3, "ok": True, "loss": 0.25}


# -- the machine and the MPI path ---------------------------------------------------------------

def cpu_model() -> str:
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown"
    name = info.get("model name", "unknown")
    extra = f"family {info.get('cpu family', '?')}, model {info.get('model', '?')}"
    return f"{name} ({extra}, {os.cpu_count()} logical CPUs)"


def path_name(env=os.environ) -> str:
    chosen = {k: env[k] for k in PATH_VARIABLES if env.get(k)}
    for name, wanted in PATHS.items():
        if chosen == wanted:
            return name
    return "custom: " + (" ".join(f"{k}={v}" for k, v in chosen.items()) or "default")


def _socket_inodes() -> set:
    out = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def path_evidence() -> dict:
    """Established TCP connections this process owns, and its shared-memory mappings (no fork)."""
    inodes, tcp = _socket_inodes(), 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                tcp += 1
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        maps = []
    shm = len({line.split()[-1] for line in maps if "/dev/shm/" in line or "SYSV" in line})
    return {"tcp_established": tcp, "shm_mappings": shm}


# -- the transport under test ---------------------------------------------------------------------

def load_transport_class(module: str | None):
    """MPITransport from pyprivml.comm.mpi, or from another copy of that file (``--module``).

    A copy is loaded as a module of a stand-in package whose path is pyprivml/comm, so that its
    ``from .base import ...`` finds the real base module without importing the rest of pyprivml.
    The same happens when the package itself cannot be imported (other modules mid-refactor)."""
    if module is None:
        try:
            from pyprivml.comm.mpi import MPITransport
            return MPITransport, "pyprivml.comm.mpi"
        except ImportError as exc:
            print(f"# import pyprivml.comm.mpi failed ({exc}); loading {COMM_DIR / 'mpi.py'} alone",
                  file=sys.stderr)
            module = str(COMM_DIR / "mpi.py")
    pkg_name = "_roundtrip_comm"
    if pkg_name not in sys.modules:
        pkg = types.ModuleType(pkg_name)
        pkg.__path__ = [str(COMM_DIR)]
        sys.modules[pkg_name] = pkg
        importlib.import_module(f"{pkg_name}.base")
    spec = importlib.util.spec_from_file_location(f"{pkg_name}.mpi_under_test", module)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod.MPITransport, str(Path(module).resolve())


# -- measurements (under mpiexec) -------------------------------------------------------------------

def quartiles_us(seconds) -> dict:
    a = np.asarray(seconds) * 1e6
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median_us": float(med), "q1_us": float(q1), "q3_us": float(q3), "n": int(a.size)}


def _serve(kind, comm, t, MPI):
    """A worker's side of one kind: echo every ping from rank 0 until told to stop."""
    tag = TAGS[kind]
    if kind.startswith("transport"):
        while True:
            payload, _ = t.recv(0, tag)
            if isinstance(payload, dict) and payload.get("stop"):
                return
            t.send(payload, 0, tag)
    status = MPI.Status()
    if kind.startswith("raw Send"):
        buf = np.empty(8, dtype=np.int64)
        while True:
            comm.Recv(buf, source=0, tag=MPI.ANY_TAG, status=status)
            if status.Get_tag() == STOP_TAG:
                return
            comm.Send(buf, dest=0, tag=tag)
    while True:
        obj = comm.recv(source=0, tag=MPI.ANY_TAG, status=status)
        if status.Get_tag() == STOP_TAG:
            return
        comm.send(obj, dest=0, tag=tag)


def _drive(kind, comm, t, MPI, rounds, warmup, budget):
    """Rank 0's side: ping-pong workers 1..size-1 in turn; round-trip times in seconds."""
    tag, workers = TAGS[kind], range(1, comm.Get_size())
    arr = np.arange(8, dtype=np.int64)
    times, start, clock = [], time.monotonic(), time.perf_counter
    for rep in range(warmup + rounds):
        for w in workers:
            t0 = clock()
            if kind == "transport ndarray int64[8]":
                t.send(arr, w, tag)
                t.recv(w, tag)
            elif kind == "transport dict":
                t.send(SMALL_DICT, w, tag)
                t.recv(w, tag)
            elif kind == "raw Send/Recv int64[8]":
                comm.Send(arr, dest=w, tag=tag)
                comm.Recv(arr, source=w, tag=tag)
            else:
                comm.send(SMALL_DICT, dest=w, tag=tag)
                comm.recv(source=w, tag=tag)
            if rep >= warmup:
                times.append(clock() - t0)
        if rep >= warmup and time.monotonic() - start > budget:
            break
    for w in workers:
        if kind.startswith("transport"):
            t.send({"stop": True}, w, tag)
        elif kind.startswith("raw Send"):
            comm.Send(arr, dest=w, tag=STOP_TAG)
        else:
            comm.send(None, dest=w, tag=STOP_TAG)
    return times


WAIT_MODES = {"transport recv": 31, "raw Recv (blocking)": 32, "workers asleep (reference)": 33}


def _work() -> float:
    """A fixed piece of CPU-bound work (a few ms in pure Python); its duration in seconds."""
    t0 = time.perf_counter()
    total = 0
    for i in range(150_000):
        total += i * i
    return time.perf_counter() - t0


def _compute_while_waiting(mode, comm, t, budget):
    """Rank 0 times _work() while every other rank waits for a message (the CPU their waiting costs).

    The workers wait in the transport's receive, in a blocking raw Recv, or (the reference) in
    time.sleep; rank 0's median work time against the reference is the slowdown."""
    rank, tag = comm.Get_rank(), WAIT_MODES[mode]
    seconds = comm.bcast(budget, root=0)
    comm.Barrier()
    if mode.startswith("workers asleep"):
        if rank:
            time.sleep(seconds + 0.2)
            return None
        time.sleep(0.05)  # let the workers fall asleep
        times, start = [], time.monotonic()
        while time.monotonic() - start < seconds:
            times.append(_work())
        return times
    if rank:
        if mode.startswith("transport"):
            t.recv(0, tag)
        else:
            comm.Recv(np.empty(8, dtype=np.int64), source=0, tag=tag)
        return None
    time.sleep(0.05)
    times, start = [], time.monotonic()
    while time.monotonic() - start < seconds:
        times.append(_work())
    for w in range(1, comm.Get_size()):
        if mode.startswith("transport"):
            t.send(np.zeros(8, dtype=np.int64), w, tag)
        else:
            comm.Send(np.zeros(8, dtype=np.int64), dest=w, tag=tag)
    return times


def _cost_sweep(comm, t, budget_per_size=0.15):
    """RTT against size between ranks 0 and 1, raw Send/Recv and the transport (rank 0's times)."""
    rank, out = comm.Get_rank(), {}
    for via in ("raw", "transport"):
        rows = []
        for nbytes in SIZES:
            buf = np.zeros(nbytes, dtype=np.uint8)
            times, reps = [], 10  # 10 untimed rounds, then as many as fit in budget_per_size
            i = 0
            while i < reps + 10:
                t0 = time.perf_counter()
                if via == "raw":
                    if rank == 0:
                        comm.Send(buf, dest=1, tag=21)
                        comm.Recv(buf, source=1, tag=21)
                    else:
                        comm.Recv(buf, source=0, tag=21)
                        comm.Send(buf, dest=0, tag=21)
                elif rank == 0:
                    t.send(buf, 1, 22)
                    buf, _ = t.recv(1, 22)
                else:
                    buf, _ = t.recv(0, 22)
                    t.send(buf, 0, 22)
                times.append(time.perf_counter() - t0)
                if i == 9:  # rank 0 sizes the run from the untimed rounds and tells rank 1
                    pilot = float(np.median(times)) if rank == 0 else None
                    reps = comm.bcast(None if rank else int(np.clip(budget_per_size / pilot, 30, 400)), root=0)
                    times = []
                i += 1
            if rank == 0:
                rows.append({"bytes": nbytes, **quartiles_us(times)})
        if rank == 0:
            out[via] = {"sizes": rows, **fit_cost(rows)}
    return out


def fit_cost(rows) -> dict:
    """RTT = a + b * bytes, least squares weighted by 1/RTT (relative errors): a/2 is the one-way
    per-message cost, 2/b the bandwidth."""
    x = np.array([r["bytes"] for r in rows], dtype=float)
    y = np.array([r["median_us"] for r in rows], dtype=float)
    w = 1.0 / y
    A = np.stack([np.ones_like(x), x], axis=1) * w[:, None]
    (a, b), *_ = np.linalg.lstsq(A, y * w, rcond=None)
    return {"rtt_intercept_us": float(a), "per_message_us": float(a / 2), "rtt_us_per_byte": float(b),
            "bandwidth_GBps": float(2 / b / 1e3) if b > 0 else None,
            "half_rtt_8B_us": float(y[0] / 2)}


def measure(args) -> dict | None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    cls, where = load_transport_class(args.module)
    t = cls(comm)
    kinds = list(TAGS)
    rounds = max(args.round_trips // (size - 1), 20)
    result = {"ranks": size, "path": path_name(), "module": where, "rtt": {}}
    for kind in kinds:
        if rank == 0:
            result["rtt"][kind] = quartiles_us(_drive(kind, comm, t, MPI, rounds, args.warmup, args.budget))
        else:
            _serve(kind, comm, t, MPI)
    result["compute_while_waiting"] = {}
    for mode in WAIT_MODES:
        times = _compute_while_waiting(mode, comm, t, min(args.budget, 1.0))
        comm.Barrier()
        if rank == 0:
            result["compute_while_waiting"][mode] = quartiles_us(times)
    if size == 2 and not args.no_cost:
        result["cost"] = _cost_sweep(comm, t)
    evidence = comm.gather(path_evidence(), root=0)
    comm.Barrier()
    if rank != 0:
        return None
    result.update(cpu=cpu_model(), host=socket.gethostname(), mpi=MPI.Get_library_version().splitlines()[0],
                  evidence=evidence[0], env={k: os.environ[k] for k in PATH_VARIABLES if os.environ.get(k)})
    return result


def print_result(r) -> None:
    print(f"# {r['cpu']}; {r['mpi']}; {r['ranks']} ranks; path {r['path']}; transport from {r['module']}")
    print(f"# evidence (rank 0): {r['evidence']['tcp_established']} established TCP connections, "
          f"{r['evidence']['shm_mappings']} shared-memory mappings")
    print(f"{'round trip (rank 0 <-> each worker in turn)':46s} {'median':>9s} {'q1':>9s} {'q3':>9s} {'n':>6s}  [µs]")
    for kind, s in r["rtt"].items():
        print(f"{kind:46s} {s['median_us']:9.1f} {s['q1_us']:9.1f} {s['q3_us']:9.1f} {s['n']:6d}")
    ref = r["compute_while_waiting"]["workers asleep (reference)"]["median_us"]
    for mode, s in r["compute_while_waiting"].items():
        print(f"rank 0 work while the others wait: {mode:27s} {s['median_us'] / 1e3:7.2f} ms "
              f"(q1 {s['q1_us'] / 1e3:.2f}, q3 {s['q3_us'] / 1e3:.2f}, n {s['n']}), {s['median_us'] / ref:.2f}x")
    for via, c in r.get("cost", {}).items():
        print(f"# RTT against size, {via}: " + ", ".join(f"{row['bytes']} B {row['median_us']:.1f}"
                                                       for row in c["sizes"]))
        print(f"#   fit: RTT = {c['rtt_intercept_us']:.2f} µs + {c['rtt_us_per_byte'] * 1e3:.3f} µs/kB  ->  "
              f"per-message cost {c['per_message_us']:.2f} µs one way, bandwidth "
              f"{c['bandwidth_GBps']:.2f} GB/s; half RTT at 8 B {c['half_rtt_8B_us']:.2f} µs")


# -- the sweep (outside mpiexec) ----------------------------------------------------------------------

def _median_of(runs, getter):
    values = [getter(r) for r in runs]
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def sweep(args) -> dict:
    mpiexec = args.mpiexec or str(Path(sys.executable).with_name("mpiexec"))
    base_env = {k: v for k, v in os.environ.items() if k not in PATH_VARIABLES
                and not k.startswith(("PMI_", "PMIX_", "OMPI_"))}
    base_env["PYTHONPATH"] = str(ROOT) + os.pathsep + base_env.get("PYTHONPATH", "")
    configs = [(p, 2) for p in args.paths] + [("shm", n) for n in args.ranks if n != 2]
    if 2 not in args.ranks:
        configs = [(p, n) for p, n in configs if n != 2]
    runs = {}
    for rep in range(args.repeat):
        for path, n in configs:
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
                out = fh.name
            cmd = [mpiexec, "-n", str(n), sys.executable, str(Path(__file__).resolve()), "--json", out,
                   "--round-trips", str(args.round_trips), "--budget", str(args.budget)]
            if args.module:
                cmd += ["--module", args.module]
            env = dict(base_env, **PATHS[path])
            prefix = " ".join(f"{k}={v}" for k, v in PATHS[path].items())
            print(f"$ {prefix + ' ' if prefix else ''}{' '.join(cmd)}", flush=True)
            subprocess.run(cmd, env=env, check=True, timeout=600)
            r = json.loads(Path(out).read_text())
            os.unlink(out)
            print_result(r)
            runs.setdefault(f"{path} -n {n}", []).append(r)
    summary = {}
    for key, rs in runs.items():
        s = {"rtt_median_us": {k: _median_of(rs, lambda r, k=k: r["rtt"][k]["median_us"]) for k in TAGS},
             "work_ms_while_waiting": {m: _median_of(rs, lambda r, m=m: r["compute_while_waiting"][m]["median_us"] / 1e3)
                                       for m in WAIT_MODES},
             "evidence": rs[0]["evidence"]}
        if "cost" in rs[0]:
            s["cost"] = {via: {f: _median_of(rs, lambda r, via=via, f=f: r["cost"][via][f])
                               for f in ("per_message_us", "rtt_intercept_us", "bandwidth_GBps", "half_rtt_8B_us")}
                         for via in rs[0]["cost"]}
        summary[key] = s
    print(f"\n# medians over {args.repeat} run(s) of each run's median, µs")
    print(f"{'configuration':22s} " + " ".join(f"{k:>27s}" for k in TAGS))
    for key, s in summary.items():
        print(f"{key:22s} " + " ".join(f"{s['rtt_median_us'][k]:27.1f}" for k in TAGS))
    print("# rank 0's work (ms) while the other ranks wait in: " + ", ".join(WAIT_MODES))
    for key, s in summary.items():
        print(f"{key:22s} " + " ".join(f"{s['work_ms_while_waiting'][m]:27.2f}" for m in WAIT_MODES))
    for key, s in summary.items():
        for via, c in s.get("cost", {}).items():
            print(f"{key:22s} {via:9s}: per-message {c['per_message_us']:.2f} µs (RTT intercept "
                  f"{c['rtt_intercept_us']:.2f}), half RTT at 8 B {c['half_rtt_8B_us']:.2f} µs, "
                  f"{c['bandwidth_GBps']:.2f} GB/s")
    return {"cpu": cpu_model(), "paths": {p: DESCRIPTIONS[p] for p in args.paths}, "summary": summary,
            "runs": runs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", metavar="OUT", help="write the numbers here")
    ap.add_argument("--module", help="measure this copy of pyprivml/comm/mpi.py instead")
    ap.add_argument("--round-trips", type=int, default=2000, help="round trips per kind (split among workers)")
    ap.add_argument("--warmup", type=int, default=5, help="rounds (over all workers) not timed")
    ap.add_argument("--budget", type=float, default=1.5, help="seconds at most per kind")
    ap.add_argument("--no-cost", action="store_true", help="skip the size sweep with two ranks")
    ap.add_argument("--sweep", action="store_true", help="launch mpiexec for every path and rank count")
    ap.add_argument("--ranks", type=int, nargs="+", default=[2, 10], help="--sweep: rank counts (all > 2 use shm)")
    ap.add_argument("--paths", nargs="+", default=["shm", "nolocal-ucx", "tcp-ucx", "tcp-ofi"],
                    choices=list(PATHS), help="--sweep: MPICH paths measured with two ranks")
    ap.add_argument("--repeat", type=int, default=1, help="--sweep: runs of each configuration")
    ap.add_argument("--mpiexec", help="--sweep: the launcher (default: next to this python)")
    args = ap.parse_args(argv)
    if args.sweep:
        data = sweep(args)
    else:
        data = measure(args)
        if data is None:
            return 0
        print_result(data)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
