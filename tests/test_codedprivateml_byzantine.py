"""Byzantine workers corrected by Reed–Solomon decoding (issue 13, item 3): the weights are those
of the honest run bit for bit, the faulty ranks are named, and too many faults stop the run
instead of producing a wrong model."""

import random

import numpy as np
import pytest

from pyprivml.protocols.codedprivateml import CodedPrivateMLConfig
from pyprivml.protocols.codedprivateml.cli import parse_faults
from pyprivml.protocols.codedprivateml.roles import run_codedprivateml
from pyprivml.reedsolomon import TooManyErrors, locate_errors


def _task():
    rng = np.random.default_rng(3)
    X = rng.random((200, 8)) * 0.5
    return X, (X.sum(axis=1) > 2).astype(float)


BASE = dict(K=2, T=1, max_iter=4, seed=0)          # threshold 3 (K + T - 1) + 1 = 7 for every N


def _named(result):
    return sorted({int(w.split("rank ")[1].split()[0]) for w in result.warnings if "Byzantine" in w})


@pytest.mark.parametrize("mode", ["random", "offset", "scale", "poly"])
def test_one_byzantine_worker_of_each_mode_is_corrected_and_named(mode):
    X, y = _task()
    honest = run_codedprivateml(X, y, CodedPrivateMLConfig(n_workers=9, **BASE), transport="inprocess")
    cfg = CodedPrivateMLConfig(n_workers=9, byzantine=1, faults={4: mode}, **BASE)
    got = run_codedprivateml(X, y, cfg, transport="inprocess")
    assert np.array_equal(got.w, honest.w)
    assert _named(got) == [4]


def test_a_worker_found_byzantine_is_sent_no_more_weights_and_not_waited_for():
    X, y = _task()
    honest = run_codedprivateml(X, y, CodedPrivateMLConfig(n_workers=9, **BASE), transport="inprocess")
    cfg = CodedPrivateMLConfig(n_workers=9, byzantine=1, faults={4: "scale"}, **BASE)
    got, run = run_codedprivateml(X, y, cfg, transport="inprocess", record_payloads=True, return_launch=True)
    assert np.array_equal(got.w, honest.w) and _named(got) == [4]
    weights_to = [dest for dest, _, phase, _ in run.transports[0].log.sent if phase == "weights"]
    # iteration 0 gathers all 9 results (threshold 7 + 2A + 1) and finds rank 4; from then on the
    # master encodes for 8 workers, waits for 7 + 1 of them and never for rank 4
    assert weights_to.count(4) == 1
    assert all(weights_to.count(r) == BASE["max_iter"] for r in range(1, 10) if r != 4)
    assert run.results[4]["answered"] == [0]
    assert all(4 not in ranks for ranks in got.used_workers[1:])


def test_a_second_fault_after_the_budget_is_spent_is_still_detected():
    # A = 1 is spent on rank 4 at iteration 0; rank 6 then lies from iteration 1 on: the spare
    # result of every later iteration still exposes it
    X, y = _task()
    cfg = CodedPrivateMLConfig(n_workers=9, byzantine=1, faults={4: "offset", 6: "offset@1"}, **BASE)
    with pytest.raises(TooManyErrors, match="iteration 1: more than the 1 Byzantine workers.*already identified: \\[4\\]"):
        run_codedprivateml(X, y, cfg, transport="inprocess")


def test_two_workers_shifting_along_one_polynomial_are_both_found():
    X, y = _task()
    honest = run_codedprivateml(X, y, CodedPrivateMLConfig(n_workers=11, **BASE), transport="inprocess")
    cfg = CodedPrivateMLConfig(n_workers=11, byzantine=2, faults={2: "poly", 7: "poly"}, **BASE)
    got = run_codedprivateml(X, y, cfg, transport="inprocess")
    assert np.array_equal(got.w, honest.w) and _named(got) == [2, 7]


def test_one_fault_more_than_tolerated_is_reported_not_trained_on():
    X, y = _task()
    cfg = CodedPrivateMLConfig(n_workers=10, byzantine=1, faults={2: "offset", 6: "scale"}, **BASE)
    with pytest.raises(TooManyErrors, match="more than the 1 Byzantine workers"):
        run_codedprivateml(X, y, cfg, transport="inprocess")


def test_bad_byzantine_parameters_say_what_is_valid():
    with pytest.raises(ValueError, match=r"needs N >= .* = 11 workers, got N = 9; the largest A for N = 9 is 1"):
        CodedPrivateMLConfig(n_workers=9, byzantine=2, **BASE)
    with pytest.raises(ValueError, match="mode must be one of random, offset, scale, poly, optionally"):
        CodedPrivateMLConfig(n_workers=9, byzantine=1, faults={3: "lie"}, **BASE)
    with pytest.raises(ValueError, match="worker 3: .*@ITERATION .*got 'offset@soon'"):
        CodedPrivateMLConfig(n_workers=9, byzantine=1, faults={3: "offset@soon"}, **BASE)
    with pytest.raises(ValueError, match="rank 12 is not a worker"):
        CodedPrivateMLConfig(n_workers=9, byzantine=1, faults={12: "random"}, **BASE)
    with pytest.raises(ValueError, match="integer >= 0"):
        CodedPrivateMLConfig(n_workers=9, byzantine=-1, **BASE)
    assert parse_faults("3:random,5:poly@2") == {3: "random", 5: "poly@2"}
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="RANK:MODE"):
        parse_faults("3:lie")


def test_berlekamp_welch_finds_every_error_pattern_within_the_bound_and_detects_one_more():
    p = 2**25 - 39
    rnd = random.Random(0)
    for _ in range(200):
        k, e = rnd.randint(1, 10), rnd.randint(0, 3)
        n = k + 2 * e + 1
        xs = rnd.sample(range(1, p), n)
        h = [rnd.randrange(p) for _ in range(k)]
        ys = [sum(c * pow(x, j, p) for j, c in enumerate(h)) % p for x in xs]
        bad = sorted(rnd.sample(range(n), rnd.randint(0, e)))
        for i in bad:
            ys[i] = (ys[i] + rnd.randrange(1, p)) % p
        assert locate_errors(xs, ys, k=k, e=e, p=p) == bad
        more = [i for i in range(n) if i not in bad][: e + 1 - len(bad)]
        for i in more:                                   # e + 1 errors with one spare point: detected
            ys[i] = (ys[i] + 1) % p
        with pytest.raises(TooManyErrors):
            locate_errors(xs, ys, k=k, e=e, p=p)
    with pytest.raises(ValueError, match="n >= k \\+ 2e"):
        locate_errors([1, 2, 3], [0, 0, 0], k=2, e=1, p=p)
