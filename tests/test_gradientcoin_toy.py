"""Seed 000: Alice and Bob's ridge gradients aggregated into blocks by two racing aggregators."""

import numpy as np
import pytest

from pyprivml.comm import launch
from pyprivml.protocols.gradientcoin.toy import (AGGREGATORS, ALICE, BOB, ToyConfig, centralised_gd, run_toy,
                                                 toy_role)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = np.hstack([rng.normal(size=(40, 5)), np.ones((40, 1))])      # x_i = [Vec(X_i); 1]
    y = X @ rng.normal(size=6) + 0.1 * rng.normal(size=40)
    return [(X[:20], y[:20]), (X[20:], y[20:])]                       # Alice's half, Bob's half


CONFIG = ToyConfig(gamma=0.5, alpha=0.01, rounds=6, bits=0x1F0FFFFF, seed=0)


def test_the_chain_equals_centralised_gradient_descent_bit_for_bit(data):
    run = run_toy(data, np.zeros(6), CONFIG, transport="inprocess")
    expected = centralised_gd(data, np.zeros(6), CONFIG.gamma, CONFIG.alpha, CONFIG.rounds)
    for node in run.results:                                          # all four nodes agree
        assert len(node.weights) == CONFIG.rounds
        for got, want in zip(node.weights, expected):
            assert np.array_equal(got, want)
        assert node.hashes == run.results[0].hashes
        assert node.rejected == []
    assert set(run.results[0].winners) <= set(AGGREGATORS)
    loss = [0.5 * sum(np.sum((X @ w - y) ** 2) for X, y in data) for w in expected]
    assert loss[-1] < loss[0]                                         # and it is learning


def test_a_block_with_a_wrong_update_is_rejected_by_every_node(data):
    run = run_toy(data, np.zeros(6), CONFIG, transport="inprocess", forge=lambda t: t in (2, 4))
    expected = centralised_gd(data, np.zeros(6), CONFIG.gamma, CONFIG.alpha, CONFIG.rounds)
    for rank, node in enumerate(run.results):
        assert all(np.array_equal(a, b) for a, b in zip(node.weights, expected))
        assert all(w == AGGREGATORS[0] for t, w in enumerate(node.winners, 1) if t in (2, 4))
        if rank != AGGREGATORS[1]:
            forged = [(t, agg) for t, agg, why in node.rejected]
            assert forged and all(agg == AGGREGATORS[1] and t in (2, 4) for t, agg in forged)
            assert all("w^(t-1) - alpha" in why for _, _, why in node.rejected)


def test_only_gradients_and_blocks_cross(data):
    run = run_toy(data, np.zeros(6), CONFIG.replace(rounds=2), transport="inprocess", record_payloads=True)
    for holder in (ALICE, BOB):
        X, y = data[holder]
        for dest, _, _, payload in run.transports[holder].log.sent:
            assert dest in AGGREGATORS
            if isinstance(payload, np.ndarray):
                assert payload.shape == (6,)                          # a gradient, never X or y
                assert not any(np.array_equal(payload, row) for row in X)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        ToyConfig(alpha=0)
    with pytest.raises(ValueError):
        ToyConfig(bits=0x04923456)                                    # a negative compact target
    with pytest.raises(ValueError, match="rounds"):
        ToyConfig(rounds=0)


def test_toy_role_needs_four_ranks(data):
    with pytest.raises(ValueError, match="4 nodes"):
        launch(toy_role(data, np.zeros(6), CONFIG), 3, "inprocess")
