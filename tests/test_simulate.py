"""The simulated cluster: virtual clocks, NIC serialisation, latency, ANY_SOURCE order, failures."""

import time

import numpy as np
import pytest

from pyprivml.comm.base import ANY_SOURCE
from pyprivml.simulate import EC2_M3_XLARGE, NETWORK, NetworkModel, run_simulated

NET = NetworkModel(bandwidth=1e9, latency=1e-3)   # 1 MB takes 1 ms per NIC
MB = np.zeros(125_000, dtype=np.int64)


def test_ping_pong_costs_two_latencies_and_transfers():
    def role(t):
        if t.rank == 0:
            t.send(MB, 1)
            t.recv(source=1)
        else:
            t.send(t.recv(source=0)[0], 0)

    res = run_simulated(role, 2, network=NET)
    assert res.total == pytest.approx(2 * (1e-3 + 1e-3), abs=2e-4)
    assert res.critical_path[NETWORK] == pytest.approx(4e-3, abs=1e-5)


def test_master_nic_serialises_sends():
    """A master sending 1 MB to each of 4 workers: the last arrives after 4 transfers + latency."""
    def role(t):
        if t.rank == 0:
            for r in range(1, 5):
                t.send(MB, r)
        else:
            t.recv(source=0)

    res = run_simulated(role, 5, network=NET)
    arrivals = sorted(res.clocks[1:])
    np.testing.assert_allclose(arrivals, [2e-3, 3e-3, 4e-3, 5e-3], atol=2e-4)


def test_compute_is_measured_and_charged_to_its_phase():
    def role(t):
        if t.rank == 1:
            with t.in_phase("work"):
                time.sleep(0.05)
            t.send(np.zeros(1), 0)
        else:
            t.recv(source=1)

    res = run_simulated(role, 2, network=NET)
    assert res.critical_path["work"] >= 0.05
    assert res.total == pytest.approx(res.critical_path["work"] + 1e-3, abs=5e-3)
    assert res.critical_path[NETWORK] == pytest.approx(1e-3 + 8 / 1e9, abs=1e-6)


def test_any_source_takes_earliest_virtual_arrival():
    """Rank 1 runs first but computes longer: rank 2's message arrives first in virtual time."""
    def role(t):
        if t.rank == 0:
            return [t.recv(source=ANY_SOURCE)[1] for _ in range(2)]
        if t.rank == 1:
            time.sleep(0.05)
        t.send(np.zeros(1), 0)

    assert run_simulated(role, 3, network=NET).results[0] == [2, 1]


def test_barrier_aligns_clocks():
    def role(t):
        if t.rank == 1:
            time.sleep(0.03)
        t.barrier()
        return t.now()

    res = run_simulated(role, 3, network=NET)
    assert min(res.results) >= 0.03


def test_payloads_are_read_only_views_and_counted():
    def role(t):
        if t.rank == 0:
            t.send(MB, 1)
            t.send({"iterations": 3}, 1)
        else:
            a, _ = t.recv(source=0)
            meta, _ = t.recv(source=0)
            with pytest.raises(ValueError):
                a[0] = 1
            return meta

    res = run_simulated(role, 2, network=NET)
    assert res.results[1] == {"iterations": 3}
    stats = res.transports[0].log.total()
    assert stats.messages_sent == 2 and stats.bytes_sent > MB.nbytes


def test_deadlock_is_reported():
    def role(t):
        t.recv(source=1 - t.rank)

    with pytest.raises(RuntimeError, match="deadlock: rank 0 waits for a message from rank 1"):
        run_simulated(role, 2, network=NET)


def test_role_exception_propagates_and_stops_others():
    def role(t):
        if t.rank == 1:
            raise KeyError("boom")
        t.recv(source=1)

    with pytest.raises(KeyError, match="boom"):
        run_simulated(role, 2, network=NET)


def test_network_model_validation_and_defaults():
    with pytest.raises(ValueError, match="bandwidth must be positive"):
        NetworkModel(bandwidth=0)
    with pytest.raises(ValueError, match="latency"):
        NetworkModel(latency=-1)
    assert EC2_M3_XLARGE.bandwidth == 100e6 and EC2_M3_XLARGE.latency == 2e-4
    with pytest.raises(ValueError, match="size"):
        run_simulated(lambda t: None, 0)
