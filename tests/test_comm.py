"""Transports: in-process semantics, per-phase counting, timeouts that name the missing ranks."""

import time

import numpy as np
import pytest

from pyprivml.comm import (ANY_SOURCE, TransportAborted, TransportTimeout, launch, make_transport,
                           resolve_kind, run_inprocess)


def test_arrays_and_objects_round_trip_and_are_counted_per_phase():
    def role(t):
        if t.rank == 1:
            with t.in_phase("data"):
                t.send(np.arange(10, dtype=np.int64), dest=0, tag=3)
            with t.in_phase("control"):
                t.send({"stop": True}, dest=0, tag=4)
            return None
        with t.in_phase("data"):
            a, src = t.recv(source=1, tag=3)
        with t.in_phase("control"):
            obj, _ = t.recv(source=ANY_SOURCE, tag=4)
        return a, src, obj

    run = run_inprocess(role, 2)
    a, src, obj = run.results[0]
    assert src == 1 and obj == {"stop": True}
    np.testing.assert_array_equal(a, np.arange(10))
    sender, receiver = run.transports[1].log.phases, run.transports[0].log.phases
    assert sender["data"].bytes_sent == 80 and sender["data"].messages_sent == 1
    assert receiver["data"].bytes_received == 80 and receiver["data"].messages_received == 1
    assert sender["control"].bytes_sent > 0 and sender["control"].messages_sent == 1
    assert run.transports[0].log.total().bytes_received == 80 + receiver["control"].bytes_received


def test_sent_arrays_are_copied_and_recorded():
    def role(t):
        if t.rank == 0:
            a = np.zeros(4, dtype=np.int64)
            t.send(a, dest=1)
            a[:] = 7  # MPI buffer semantics: the receiver must still see zeros
            return None
        return t.recv(source=0)[0]

    run = run_inprocess(role, 2, record_payloads=True)
    np.testing.assert_array_equal(run.results[1], np.zeros(4))
    ((dest, tag, phase, payload),) = run.transports[0].log.sent
    assert dest == 1 and tag == 0 and phase == "communication"
    np.testing.assert_array_equal(payload, np.zeros(4))


def test_messages_from_one_source_with_one_tag_keep_their_order_and_tags_are_matched():
    def role(t):
        if t.rank == 1:
            for i in range(5):
                t.isend(np.array([i]), dest=0, tag=1).wait()
            t.send(np.array([99]), dest=0, tag=2)
            return None
        late = t.recv(source=1, tag=2)[0]  # taken first although sent last
        return [int(t.recv(1, 1)[0][0]) for _ in range(5)], int(late[0])

    assert run_inprocess(role, 2).results[0] == ([0, 1, 2, 3, 4], 99)


def test_gather_first_returns_the_fastest_and_timeout_names_missing_ranks():
    def role(t):
        if t.rank == 0:
            first = t.gather_first(range(1, 4), 2, tag=5, timeout=10)
            with pytest.raises(TransportTimeout) as info:
                t.gather_first(range(1, 4), 3, tag=6, timeout=0.3)
            return list(first), info.value
        if t.rank == 3:
            time.sleep(0.3)  # the straggler
        t.send(np.array([t.rank]), dest=0, tag=5)
        if t.rank == 1:
            t.send(np.array([1]), dest=0, tag=6)  # ranks 2 and 3 never answer tag 6
        return None

    order, err = run_inprocess(role, 4).results[0]
    assert sorted(order) == [1, 2]
    assert err.missing == [2, 3]
    assert "[2, 3]" in str(err) and "no answer from ranks" in str(err)


def test_a_failing_rank_aborts_the_others_instead_of_hanging():
    def role(t):
        if t.rank == 1:
            raise ValueError("worker 1 exploded")
        t.recv(source=1)  # would wait forever without the abort

    start = time.monotonic()
    with pytest.raises(ValueError, match="worker 1 exploded"):
        run_inprocess(role, 3)
    assert time.monotonic() - start < 5


def test_aborted_receive_says_why():
    def role(t):
        if t.rank == 0:
            with pytest.raises(TransportAborted, match="rank 1 raised"):
                t.recv(source=1)
            return "saw abort"
        time.sleep(0.05)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_inprocess(role, 2)


def test_barrier_and_irecv():
    def role(t):
        if t.rank == 0:
            req = t.irecv(source=1, tag=9)
            t.barrier()
            payload, src = req.wait()
            return int(payload[0]), src, req.test()
        t.send(np.array([42]), dest=0, tag=9)
        t.barrier()
        return None

    assert run_inprocess(role, 2).results[0] == (42, 1, True)


def test_kind_resolution_and_validation(monkeypatch):
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(var, raising=False)
    assert resolve_kind("auto") == "inprocess"
    monkeypatch.setenv("PMI_SIZE", "4")
    assert resolve_kind("auto") == "mpi"
    monkeypatch.setenv("PMI_SIZE", "1")  # a single rank cannot run master and workers
    assert resolve_kind("auto") == "inprocess"
    with pytest.raises(ValueError, match="valid: auto, mpi, inprocess"):
        resolve_kind("tcp")
    with pytest.raises(ValueError, match="needs size"):
        make_transport("inprocess")
    assert [t.rank for t in make_transport("inprocess", 3)] == [0, 1, 2]
    assert launch(lambda t: t.rank * 10, 3, kind="inprocess").results == [0, 10, 20]
