"""Property tests as harness tests: results.json rows, counterexamples, baselines.

``property_test(Machine)`` returns the pytest function a ``test_*.py`` module binds; ``conftest.py``
parametrizes it over the selected clients and revisions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from harness.plugin import STASH, ExpectedCheckFailure, ScenarioFailed, StaleExpectation
from suites.properties.driver import supports
from suites.properties.invariants import INVARIANTS
from suites.properties.machines import RaceMachine
from suites.properties.runner import MachineResult, profile_name, run_machine


def scenario_id(machine: type[RaceMachine]) -> str:
    """``TabsMachine`` -> ``properties/tabs_machine``."""
    return "properties/" + re.sub(r"(?<!^)(?=[A-Z])", "_", machine.__name__).lower()


def invariant_ids() -> list[str]:
    return list(INVARIANTS)


def rows_for(machine: type[RaceMachine], client: str, revision: str, result: MachineResult | None,
             skip_reason: str | None = None) -> list[dict[str, Any]]:
    """One results.json check row per invariant."""
    sid = scenario_id(machine)
    broken = {v.invariant: v for v in (result.violation.violations if result and result.violation else [])}
    rows = []
    for inv, (reqs, title) in INVARIANTS.items():
        if skip_reason is not None:
            status, message = "SKIP", skip_reason
        elif inv in broken:
            status, message = "FAIL", broken[inv].message
        elif result is not None and result.violation is not None:
            status, message = "INFO", "not judged further: the machine stopped at the first broken invariant"
        else:
            assert result is not None
            status, message = "PASS", (f"held over {result.examples} hypothesis examples "
                                       f"(profile {profile_name()})")
        rows.append({"client": client, "scenario": sid, "check": inv, "requirements": list(reqs),
                     "status": status, "revision": revision, "message": message,
                     "duration_s": round(result.seconds, 3) if result else 0.0, "severity": "must",
                     "evidence": [], "highlight": [], "journal": [], "area": "properties", "title": title,
                     "store": "memory (in-process replicas share one store)", "notes": [],
                     "outcome": {"ok": bool(result and result.ok), "errors": []}})
    return rows


def run_property_item(request: pytest.FixtureRequest, machine: type[RaceMachine], client: str,
                      revision: str) -> None:
    state = request.config.stash[STASH]
    adapter = state.adapters[client]
    sid = scenario_id(machine)
    reason = supports(adapter)
    result = None if reason else run_machine(machine, adapter, revision=revision)
    rows = rows_for(machine, client, revision, result, reason)
    exp = state.expectations
    listed = {r["check"]: (exp.listed(client, sid, r["check"]) if exp else None) for r in rows}
    for r in rows:
        r["nodeid"] = request.node.nodeid
        r["expected_failure"] = bool(listed[r["check"]])
    state.collector.add(rows, {}, sid)
    if reason:
        pytest.skip(reason)
    assert result is not None
    if result.violation is not None:
        record = result.counterexample()
        assert record is not None
        record.update(revision=revision, nodeid=request.node.nodeid, examples=result.examples,
                      first_failure_example=(result.first_failure or (None, None))[0])
        state.collector.counterexamples.append(record)
        story = str(result.violation)
        if all(listed[r["check"]] for r in rows if r["status"] == "FAIL"):
            raise ExpectedCheckFailure(story)
        raise ScenarioFailed(story)
    stale = [r for r in rows if listed[r["check"]]]
    if stale:
        raise StaleExpectation("; ".join(f"stale expected failure {listed[r['check']]!r} for {client}: "
                                         f"{r['check']} now PASS" for r in stale))


def property_test(machine: type[RaceMachine]) -> Callable[..., None]:
    """The pytest function for one machine (parametrized by suites/properties/conftest.py)."""
    def test(mcp_client: str, spec_revision: str, request: pytest.FixtureRequest) -> None:
        run_property_item(request, machine, mcp_client, spec_revision)

    name = scenario_id(machine).split("/", 1)[1]
    test.__name__ = test.__qualname__ = f"test_{name}"
    test.__doc__ = machine.__doc__
    test.__harness_property__ = machine  # type: ignore[attr-defined]
    return test
