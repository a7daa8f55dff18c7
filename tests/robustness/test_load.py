"""Load (the fast form; the full form is ``python bench/load.py``): concurrent OAuth flows and a refresh
storm against one mock server, then the journal and the AS state must be consistent (see load_support)."""

from __future__ import annotations

from mock_as.server import MockServer
from tests.robustness.load_support import LOAD_KNOBS, describe, run_load


def test_concurrent_flows_and_refreshes_leave_a_consistent_journal() -> None:
    with MockServer(knobs=LOAD_KNOBS) as srv:
        run, problems = run_load(srv, flows=20, refreshes=100)
    assert not problems, describe(run) + "\n" + "\n".join(problems)
    outcomes = run.outcomes
    assert outcomes["rotated"] == 20, describe(run)
    assert outcomes["rotated"] + outcomes["reuse"] + outcomes["refused"] == 100, describe(run)
