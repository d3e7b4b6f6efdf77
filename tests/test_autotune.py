"""The autotuner: classes, forcing, the per-machine cache (also under concurrent processes), that
an inexact route is never chosen, and ``pyprivml bench kernels``. Tuning runs here only because
these tests ask for it, on tiny representative problems, in a temporary cache directory."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.backends import autotune, get_backend
from pyprivml.cli import main

TINY = {key: (24, 24, 24) for key in autotune._PROBLEMS}
TINY[("modmatvec", "matvec")] = TINY[("modmatvec_t", "matvec")] = TINY[("modmatmul", "thin")] = (48, 48, 1)


@pytest.fixture
def tuning(monkeypatch, tmp_path):
    """Tuning on, in an empty cache directory, on tiny problems, with an empty memo."""
    monkeypatch.setenv("PYPRIVML_AUTOTUNE", "1")
    monkeypatch.setenv("PYPRIVML_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("PYPRIVML_ROUTE", raising=False)
    monkeypatch.delenv("PYPRIVML_BACKEND", raising=False)
    monkeypatch.setattr(autotune, "_PROBLEMS", TINY)
    monkeypatch.setattr(autotune, "_routes", {})
    return tmp_path


def test_classes():
    assert [autotune.prime_class(p) for p in (2, 251, 257, 65537, 2**24 - 3, 2**28 - 57, 2**31 - 1)] == \
        ["8-bit", "8-bit", "16-bit", "24-bit", "24-bit", "28-bit", "32-bit"]
    with pytest.raises(ValueError, match="below 2\\*\\*32"):
        autotune.prime_class(2**32 + 15)
    big = 1 << 12
    assert autotune.shape_class("modmatmul", (big, big, big)) == "gemm"
    assert autotune.shape_class("modmatmul", (8, big, big)) == "skinny"
    assert autotune.shape_class("modmatmul", (big, big, 1)) == "thin"
    assert autotune.shape_class("modmatvec", (big, big, 1)) == "matvec"
    assert autotune.shape_class("modcombine", (20, 50, 1 << 20)) == "encoding"
    assert autotune.shape_class("modcombine", (2, 2, 2)) == "small"


def test_forced_route(monkeypatch):
    monkeypatch.setenv("PYPRIVML_ROUTE", "int8")
    assert autotune.forced_route("modmatvec") == "int8"
    monkeypatch.setenv("PYPRIVML_ROUTE", "modmatmul=blas, modcombine=cython")
    assert autotune.forced_route("modmatmul") == "blas"
    assert autotune.forced_route("modcombine") == "cython"
    assert autotune.forced_route("modmatvec") is None
    # the forced route is what a call takes, even where it is slow, and the result stays exact
    A = np.arange(12).reshape(3, 4) % 7
    monkeypatch.setattr(get_backend("blas"), "matmul", lambda *a: (_ for _ in ()).throw(RuntimeError("blas ran")))
    with pytest.raises(RuntimeError, match="blas ran"):
        pp.modmatmul(A, A.T, 7)
    monkeypatch.setenv("PYPRIVML_ROUTE", "modmatmul=blas,matmul=int8")
    with pytest.raises(ValueError, match="PRIMITIVE=NAME.*modmatmul"):
        autotune.forced_route("modmatmul")


def test_off_means_static_and_no_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PYPRIVML_AUTOTUNE", "0")
    monkeypatch.setenv("PYPRIVML_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("PYPRIVML_ROUTE", raising=False)
    assert autotune.route("modmatmul", 65521, (4096, 4096, 4096)) == autotune.STATIC_ROUTE
    assert not list(tmp_path.iterdir())


def test_tunes_once_caches_and_reads_back(tuning, monkeypatch):
    shape = (1 << 11,) * 3
    chosen = autotune.route("modmatmul", 65521, shape)
    assert chosen in pp.available_backends() and chosen != "numpy"
    data = json.loads(autotune.cache_path().read_text())
    entry = data["routes"]["modmatmul/16-bit/gemm"]
    assert entry["route"] == chosen and entry["seconds"][chosen] == min(entry["seconds"].values())
    assert {"numba", "cython", "blas"} <= set(entry["seconds"]) and not entry["inexact"]
    assert data["machine"]["cpu"] == pp.kernel_info()["cpu"]
    # a second call and a fresh process's first call read the memo / the file: no timing again
    monkeypatch.setattr(autotune, "tune", lambda *a: pytest.fail("tuned twice"))
    assert autotune.route("modmatmul", 65521, shape) == chosen
    monkeypatch.setattr(autotune, "_routes", {})
    assert autotune.route("modmatmul", 65521, shape) == chosen
    assert pp.kernel_info()["routes"]["modmatmul"]["16-bit"]["shapes"]["gemm"] == f"{chosen} (tuned)"
    # small problems are never tuned: tiny ones take the C kernels (least call cost)
    assert autotune.route("modmatmul", 65521, (8, 8, 8)) == "cython"
    assert autotune.route("modmatmul", 65521, (1024, 1024, 1)) == autotune.STATIC_ROUTE


def test_small_calls_route_by_call_cost_and_stay_exact(monkeypatch, rng):
    monkeypatch.delenv("PYPRIVML_ROUTE", raising=False)
    assert autotune.small_route("modmatmul", (400, 101, 1)) == "cython"          # below TINY_WORK
    assert autotune.small_route("modmatvec", (1024, 1024, 1)) == autotune.STATIC_ROUTE
    assert autotune.small_route("modcombine", (8, 16, 4096)) == "cython"         # every small combine
    for p in (251, 2**25 - 39, 4294967291):
        A = rng.integers(0, p, size=(400, 101), dtype=np.int64)
        w = rng.integers(0, p, size=(101, 1), dtype=np.int64)
        C = rng.integers(0, p, size=(3, 400), dtype=np.int64)
        ref = get_backend("numpy")
        assert np.array_equal(pp.modmatmul(A, w, p), ref.matmul(A, w, p))
        assert np.array_equal(pp.modcombine(C, A, p), ref.combine(C, A, p))
        assert np.array_equal(pp.modmul(A, A, p), ref.mul(A, A, p))             # entry-wise, tiny
        assert np.array_equal(pp.modadd(A[0], 5, p), ref.add(A[0], np.int64(5), p))


def test_tiny_entrywise_operations_take_the_c_kernels_unless_a_backend_is_chosen(monkeypatch):
    from pyprivml.backends import entrywise_route

    monkeypatch.delenv("PYPRIVML_BACKEND", raising=False)
    assert entrywise_route(400) == "cython" and entrywise_route(autotune.TINY_WORK) is None
    monkeypatch.setenv("PYPRIVML_BACKEND", "numba")       # a chosen default is never overridden
    assert entrywise_route(400) is None


def test_an_inexact_route_is_never_chosen(tuning, monkeypatch):
    wrong = get_backend("blas")
    monkeypatch.setattr(wrong, "matmul", lambda A, B, p: (get_backend("numpy").matmul(A, B, p) + 1) % p)
    monkeypatch.setattr(autotune, "_best_seconds", lambda fn, *a: 0.0 if fn is wrong.matmul else 1.0)
    result = autotune.tune("modmatmul", 251, "gemm")
    assert result["inexact"] == ["blas"] and result["route"] != "blas"


def test_tuned_calls_are_exact(tuning, monkeypatch, rng):
    p = 2**25 - 39
    A = rng.integers(0, p, size=(256, 512), dtype=np.int64)
    B = rng.integers(0, p, size=(512, 256), dtype=np.int64)
    for name in pp.available_backends():
        monkeypatch.setattr(autotune, "_routes", {"modmatmul/28-bit/gemm": name})
        monkeypatch.setattr(autotune, "SMALL_WORK", 1)
        assert np.array_equal(pp.modmatmul(A, B, p), get_backend("numpy").matmul(A, B, p)), name


def test_concurrent_processes_share_one_cache(tuning):
    """Two processes tune the same class at once: the lock makes one tune and the other read."""
    code = ("import json; from pyprivml.backends import autotune as t; "
            f"t._PROBLEMS = {TINY!r}; tuned = []; tune = t.tune; "
            "t.tune = lambda *a: tuned.append(1) or tune(*a); "
            "print(json.dumps([t.route('modcombine', 251, (64, 64, 1 << 16)), len(tuned)]))")
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    (route_a, tuned_a), (route_b, tuned_b) = (json.loads(out) for out in outs)
    data = json.loads(autotune.cache_path().read_text())
    assert route_a == route_b == data["routes"]["modcombine/8-bit/encoding"]["route"]
    assert tuned_a + tuned_b == 1
    assert not list(tuning.glob("*.tmp"))


def test_bench_kernels_prints_the_table(tuning, capsys, tmp_path):
    out_json = tmp_path / "bench.json"
    assert main(["bench", "kernels", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert pp.kernel_info()["cpu"]["model_name"] in text
    assert "modmatmul/8-bit/gemm" in text and "route vs float64" in text
    saved = json.loads(out_json.read_text())
    assert len(saved["results"]) == len(autotune._PROBLEMS) * len(autotune.PRIME_CLASSES)


def test_ensure_tuned_fills_only_what_is_missing(tuning, monkeypatch):
    autotune.ensure_tuned()
    data = json.loads(autotune.cache_path().read_text())
    assert len(data["routes"]) == len(autotune._PROBLEMS) * len(autotune.PRIME_CLASSES)
    monkeypatch.setattr(autotune, "tune", lambda *a: pytest.fail("tuned a cached class"))
    autotune.ensure_tuned()
