"""The race machines' machinery (suites/properties): lockstep turns, quiescence, determinism, lock loss.

The machines themselves run in ``scripts/test`` (reference) and ``bench/property_detection.py``
(mutants); these tests pin the properties the hunt relies on, with fixed rule sequences.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from client_under_test.adapters.registry import resolve
from client_under_test.stores import MemoryStore
from mock_as.journal import Entry
from suites.properties import machines
from suites.properties.invariants import refresh_redeemed_once
from suites.properties.runner import bind

logging.getLogger("mcp").setLevel(logging.CRITICAL)


def _machine(client: str, cls: type[machines.RaceMachine] = machines.ReplicasMachine) -> Any:
    return bind(cls, resolve([client])[0])()


def _c10_race(m: Any, gate: str = "token-requests") -> None:
    """Two logged-in replicas race a refresh behind a held token endpoint; the store loses its locks."""
    m.setup("reject", 2)
    m.journal_invariants()
    m.refresh_race((gate, False, False))
    m.journal_invariants()
    assert m.w.store.held_locks() == 1, "the first replica's refresh should hold the store lock"
    m.store_loses_locks()
    m.journal_invariants()
    m.teardown()


def _fingerprint(entries: list[Entry]) -> list[tuple[Any, ...]]:
    return [(e.kind, e.endpoint, e.actor, e.data.get("status"), e.data.get("gate") is not None) for e in entries]


def test_reference_survives_a_refresh_race_with_lost_locks() -> None:
    m = _machine("reference")
    _c10_race(m)  # raises InvariantViolation on a false alarm


@pytest.mark.parametrize("gate", ["token-requests", "token-answers"])
def test_loser_wiping_the_winner_is_caught(gate: str) -> None:
    m = _machine("mutant:C10-clear-on-invalid-grant")
    with pytest.raises(machines.InvariantViolation) as info:
        _c10_race(m, gate)
    m.teardown()
    assert info.value.invariant == "P.refresh-before-interactive"
    story = str(info.value)
    assert "the shared store loses its locks" in story and "400 invalid_grant" in story


def test_same_rules_same_journal() -> None:
    """Concurrency inside a step (two replicas logging in at once, a refresh race) replays identically."""
    prints = []
    for _ in range(3):
        m = _machine("reference")
        m.setup("auth0", 3)
        m.refresh_race(("token-answers", True, False))
        m.release_gate("token-answers", False)
        w = m.w
        m.teardown()
        prints.append(_fingerprint(w.journal.entries()))
    assert prints[0] == prints[1] == prints[2]


def test_one_request_at_a_time_unless_parked() -> None:
    """Lockstep: a request reaches the mock only when every earlier one is answered or parked at a gate."""
    m = _machine("reference")
    m.setup("auth0", 2)
    m.refresh_race(("token-requests", False, False))
    w = m.w
    m.teardown()
    open_x: set[int] = set()
    parked: set[int] = set()
    for e in w.journal.entries():
        if e.exchange is None:
            continue
        if e.kind == "request" and not (e.endpoint == "mcp" and e.data.get("method") == "GET"):
            assert open_x <= parked, f"#{e.seq} sent while {sorted(open_x - parked)} were under way"
            assert e.data.get("rid"), "every machine request carries its x-harness-request id"
            open_x.add(e.exchange)
        elif e.kind == "gate_held":
            parked.add(e.exchange)
        elif e.kind == "gate_released":
            parked.discard(e.exchange)
        elif e.kind == "response":
            open_x.discard(e.exchange)
            parked.discard(e.exchange)


def test_a_stopped_replica_sends_nothing() -> None:
    m = _machine("reference")
    m.setup("auth0", 2)
    before = len(m.w.journal.entries("request"))
    m.stop_replica(0)
    stopped = [e for e in m.w.journal.entries("request")[before:] if (e.actor or "").startswith("replica-1/")]
    m.teardown()
    assert stopped == []  # not even the MCP session's DELETE


def test_memory_store_wakes_waiters_on_write() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        waiter = store.wait_changed(3600.0)  # armed here, before the write
        ((_, fut),) = store._waiters
        await store.put_registration("https://as", ["http://cb"], {"client_id": "c"})
        assert fut.done(), "the write must wake the waiter (not its hour-long timeout)"
        await waiter  # and so it returns at once
        assert store._waiters == []

    asyncio.run(scenario())


def _entry(seq: int, kind: str, **data: Any) -> Entry:
    return Entry(seq=seq, ts=0.0, wall=0.0, kind=kind, endpoint=data.pop("endpoint", "token"),
                 actor=data.pop("actor", "replica-1/tab-1"), exchange=data.pop("exchange", None), data=data)


def test_reuse_is_excused_only_across_a_lock_loss() -> None:
    knobs = type("K", (), {"grace_s": 0})()
    first = _entry(1, "request", exchange=1, params={"grant_type": "refresh_token", "refresh_token": "rt_A"})
    second = _entry(3, "request", exchange=2, params={"grant_type": "refresh_token", "refresh_token": "rt_A"})
    reuse = _entry(4, "reuse_detected", presented="rt_A", policy="reject", elapsed_s=0)
    lost = _entry(2, "harness", endpoint="harness", do="locks_lost", locks=1)
    from suites.properties.invariants import JournalFacts

    assert refresh_redeemed_once(JournalFacts([first, second, reuse]), knobs)
    assert not refresh_redeemed_once(JournalFacts([first, lost, second, reuse]), knobs)
    late = _entry(5, "harness", endpoint="harness", do="locks_lost", locks=1)
    assert refresh_redeemed_once(JournalFacts([first, second, reuse, late]), knobs)
