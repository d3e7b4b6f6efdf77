"""Irene's asynchronous EASGD (seed 001, Algorithm 1) with the dropout-thinned exchange."""

import time

import numpy as np
import pytest

from pyprivml.comm import launch
from pyprivml.protocols.irene.easgd import EASGDConfig, NoThinning, Thinning, easgd_server, easgd_user


class Quadratic:
    """x^k and the loss ½‖x − a‖² of one user: g(x) = x − a, an SGD step of rate η."""

    def __init__(self, a, lr=0.1, delay=0.0):
        self.a, self.lr, self.delay = np.asarray(a, dtype=np.float32), np.float32(lr), delay
        self.x = None
        self.units_seen = []

    def shared(self):
        return self.x.copy()

    def load_shared(self, x):
        self.x = np.array(x, dtype=np.float32)

    def step(self, tick, units):
        self.units_seen.append(None if units is None else units.copy())
        if self.delay:
            time.sleep(self.delay)
        self.x = self.x - self.lr * (self.x - self.a)
        return float(0.5 * np.sum((self.x - self.a) ** 2))


class Blocks(Thinning):
    """Toy thinning: unit u of the single group owns entries 3u..3u+2; the last 2 entries (a
    'convolution') always travel."""

    def __init__(self, units=5):
        super().__init__(3 * units + 2, {"fc": units})

    def entries(self, units):
        return np.concatenate([np.repeat(units, 3), [True, True]])


def _run(users, config, x0, thinning=None, record=False):
    def role(t):
        if t.rank == 0:
            return easgd_server(t, x0, config, thinning)
        return easgd_user(t, users[t.rank - 1], config, thinning)

    return launch(role, len(users) + 1, kind="inprocess", record_payloads=record)


def test_one_user_is_a_direct_transcription_of_algorithm_1():
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=7).astype(np.float32)
    a = rng.normal(size=7).astype(np.float32)
    cfg = EASGDConfig(beta=0.3, period=3, ticks=10, dropout=0.0)
    run = _run([Quadratic(a, lr=0.2)], cfg, x0)
    # Algorithm 1 written out: fixed schedule, one user, float32 throughout.
    beta, eta = np.float32(0.3), np.float32(0.2)
    centre, xk = x0.copy(), x0.copy()
    for i in range(cfg.ticks):
        x = xk.copy()
        if i % cfg.period == 0:
            diff = (beta * (x - centre)).astype(np.float32)
            xk = xk - diff
            centre = centre + diff
        xk = xk - eta * (xk - a)
    server, user = run.results
    assert np.array_equal(user.x, xk)
    assert np.array_equal(server.centre, centre)
    assert user.exchanges == [0, 3, 6, 9]
    assert server.applied == {1: 4}


def test_thinned_exchange_sends_only_kept_entries_and_the_server_applies_each_difference_once():
    rng = np.random.default_rng(2)
    thinning = Blocks(units=6)
    x0 = np.zeros(thinning.size, dtype=np.float32)
    users = [Quadratic(rng.normal(size=thinning.size), lr=0.3) for _ in range(3)]
    cfg = EASGDConfig(beta=0.2, period=2, ticks=12, dropout=0.5, seed=0)
    run = _run(users, cfg, x0, thinning, record=True)
    server = run.results[0]
    assert server.applied == {1: 6, 2: 6, 3: 6}                  # 12 ticks / λ = 2, each once
    sent = run.transports[0].log.sent
    for user in (1, 2, 3):
        to_user = [p for dest, _, ph, p in sent if dest == user and ph == "centre"]
        headers, values = to_user[0::2], to_user[1::2]
        assert values[0].shape == (thinning.size,)               # the initial download is whole
        from_user = [p for dest, _, ph, p in run.transports[user].log.sent if ph == "elastic"]
        assert len(from_user) == 6
        for header, centre_part, diff in zip(headers[1:], values[1:], from_user):
            kept = thinning.entries(header["units"]).sum()
            assert centre_part.shape == diff.shape == (kept,)
        # the user trained under the mask of its last exchange
        masks = [h["units"] for h in headers[1:]]
        seen = users[user - 1].units_seen
        assert all(np.array_equal(seen[t], masks[t // 2]) for t in range(cfg.ticks))
    kept = np.mean(server.kept_fraction)
    assert 0.3 < kept < 0.8                                      # about half the fc entries, plus 2
    # every payload is a control dict or a float32 vector of parameters: nothing else crosses
    for t in run.transports:
        for _, _, _, p in t.log.sent:
            assert isinstance(p, dict) or (isinstance(p, np.ndarray) and p.dtype == np.float32 and p.ndim == 1)


def test_thinning_cuts_bytes_in_proportion_to_the_kept_fraction():
    thinning = Blocks(units=40)
    x0 = np.zeros(thinning.size, dtype=np.float32)
    a = np.ones(thinning.size)
    cfg = EASGDConfig(beta=0.2, period=1, ticks=20, dropout=0.5, seed=3)
    thin = _run([Quadratic(a)], cfg, x0, thinning)
    full = _run([Quadratic(a)], cfg.replace(dropout=0.0), x0, NoThinning(thinning.size))
    thin_bytes = thin.transports[1].log.phases["elastic"].bytes_sent
    full_bytes = full.transports[1].log.phases["elastic"].bytes_sent
    kept = np.mean(thin.results[0].kept_fraction)
    assert thin_bytes == pytest.approx(kept * full_bytes, rel=1e-9)
    assert thin_bytes < 0.7 * full_bytes


def test_asynchronous_server_with_a_slow_user_still_converges():
    rng = np.random.default_rng(4)
    target = rng.normal(size=9).astype(np.float32)
    users = [Quadratic(target, lr=0.3), Quadratic(target, lr=0.3), Quadratic(target, lr=0.3, delay=0.01)]
    cfg = EASGDConfig(beta=0.4, period=2, ticks=30, dropout=0.0)
    run = _run(users, cfg, np.zeros(9, dtype=np.float32))
    server = run.results[0]
    assert server.applied == {1: 15, 2: 15, 3: 15}
    assert np.linalg.norm(server.centre - target) < 0.05 * np.linalg.norm(target)
    assert server.updates_per_second > 100


@pytest.mark.parametrize("bad, match", [
    (dict(beta=0.0), "beta"), (dict(beta=1.0), "beta"), (dict(period=0), "period"),
    (dict(dropout=1.0), r"dropout must lie in \[0, 1\)"), (dict(dropout=-0.1), "dropout"),
])
def test_bad_configuration_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        EASGDConfig(**bad)


def test_a_forged_difference_is_refused():
    cfg = EASGDConfig(ticks=2, period=1, dropout=0.0, timeout=10)

    def role(t):
        if t.rank == 0:
            return easgd_server(t, np.zeros(4, dtype=np.float32), cfg)
        t.send(np.full(4, np.nan, dtype=np.float32), 0, 0)   # a difference nobody asked for

    with pytest.raises(ValueError, match="without a request"):
        launch(role, 2, kind="inprocess")
