"""Glue between the race machines and the harness plugin (harness/plugin.py).

The plugin parametrizes scenario tests over ``--client`` x ``--spec-revision``; property tests carry
``__harness_property__`` (a machine class) instead of a scenario, and this hook parametrizes them the
same way (``test_tabs_machine[mutant:C08-...-2025-11-25]``). Each run adds one results.json check row
per invariant (FAIL for the broken one, with its catalogue ids as requirements, so the mutation gate
counts the kill) and, on failure, a ``counterexamples`` record with the numbered story.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.plugin import STASH, ExpectedCheckFailure


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    machine = getattr(metafunc.function, "__harness_property__", None)
    if machine is None:
        return
    state = metafunc.config.stash[STASH]
    from suites.properties.glue import invariant_ids, scenario_id

    params = []
    with_mutants = metafunc.config.getoption("harness_property_mutants")
    for name in state.adapters:
        if name.startswith("mutant:") and not with_mutants:
            continue  # the scenario suites judge mutants; the machines hunt them only when asked
        for rev in state.revisions:
            marks: list[Any] = [pytest.mark.scenario(scenario_id(machine))]
            exp = state.expectations
            if exp is not None and exp.any_listed(name, scenario_id(machine), invariant_ids()):
                marks.append(pytest.mark.xfail(strict=True, raises=ExpectedCheckFailure,
                                               reason=f"listed in {exp.path}"))
            params.append(pytest.param(name, rev, marks=marks, id=f"{name}-{rev}"))
    metafunc.parametrize(("mcp_client", "spec_revision"), params)


