"""Run a race machine against one adapter: used by the pytest suite and by bench/property_detection.py.

Budgets follow the active hypothesis profile (root conftest.py): ``ci`` is derandomized and small, so
that the reference passes quickly and ~30 mutants x 2 machines stay within a couple of minutes on two
cores; ``dev`` is randomized and keeps its example database in ``.hypothesis/``; ``deep`` runs
thousands of examples with long programs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hypothesis import settings
from hypothesis.reporting import default as default_reporter
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

from suites.properties.machines import InvariantViolation, RaceMachine, Stats

#: profile -> seconds hypothesis may spend shrinking one failure (its own default is 300 s, far too long
#: for a mutation run of ~30 mutants). Set through a private engine constant; harmless if it moves.
SHRINK_SECONDS: dict[str, int] = {"ci": 6, "dev": 60, "deep": 300}

#: profile -> (max_examples, stateful_step_count); None keeps the profile's own value. A machine may scale
#: the examples (``RaceMachine.EXAMPLES_FACTOR``: the replicas machine has more to combine).
BUDGETS: dict[str, tuple[int | None, int | None]] = {
    "ci": (40, 12),
    "dev": (None, 14),
    "deep": (None, None),
}


def profile_name() -> str:
    return str(getattr(settings, "_current_profile", None) or "default")


def machine_settings(machine: type[RaceMachine] | None = None, **overrides: Any) -> settings:
    """The active profile's settings, with this suite's budget for it (and any overrides)."""
    examples, steps = BUDGETS.get(profile_name(), (None, 12))
    kw: dict[str, Any] = {}
    factor = machine.EXAMPLES_FACTOR if machine is not None else 1.0
    if examples is not None:
        kw["max_examples"] = round(examples * factor)
    if steps is not None:
        kw["stateful_step_count"] = steps
    kw.update(overrides)
    return settings(settings.default, **kw)


def bind(machine: type[RaceMachine], adapter: Any, revision: str | None = None) -> type[RaceMachine]:
    """A subclass of ``machine`` that drives ``adapter`` (its name keys the example database)."""
    attrs: dict[str, Any] = {"adapter": adapter, "stats": Stats(), "__module__": machine.__module__}
    if revision:
        attrs["revision"] = revision
    return type(f"{machine.__name__}[{adapter.name}]", (machine,), attrs)


@dataclass
class MachineResult:
    machine: str
    client: str
    ok: bool
    examples: int  # examples run in total (including shrinking)
    seconds: float
    first_failure: tuple[int, float] | None  # (example number, seconds) of the first failing example
    violation: InvariantViolation | None = None

    def counterexample(self) -> dict[str, Any] | None:
        """The results.json ``counterexamples`` record."""
        v = self.violation
        if v is None:
            return None
        return {"client": self.client, "machine": self.machine, "steps": v.steps, "invariant": v.invariant,
                "requirements": list(v.violations[0].requirements), "message": v.violations[0].message}


def find_violation(exc: BaseException) -> InvariantViolation | None:
    """The InvariantViolation inside ``exc`` (hypothesis may wrap it, e.g. in a Flaky group)."""
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if isinstance(e, InvariantViolation):
            return e
        todo.extend(getattr(e, "exceptions", ()) or ())
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                todo.append(nxt)
    return None


def _quiet_shrink_limit(value: object) -> None:
    """Hypothesis's own reporter, minus its "spent more than five minutes shrinking" warning: our profiles
    cap shrinking on purpose (SHRINK_SECONDS), so that warning would be both expected and untrue."""
    if isinstance(value, str) and value.startswith("WARNING: Hypothesis has spent more than five minutes"):
        return
    default_reporter(value)


def run_machine(machine: type[RaceMachine], adapter: Any, *, revision: str | None = None,
                settings_: settings | None = None) -> MachineResult:
    """Run the machine; a violation is returned (not raised). Other errors propagate (harness bugs)."""
    bound = bind(machine, adapter, revision)
    t0 = time.monotonic()
    bound.stats.started = t0
    violation = None
    from hypothesis.internal.conjecture import engine

    saved = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if saved is not None:
        engine.MAX_SHRINKING_SECONDS = SHRINK_SECONDS.get(profile_name(), saved)  # type: ignore[attr-defined]
    try:
        with with_reporter(_quiet_shrink_limit):
            run_state_machine_as_test(bound, settings=settings_ or machine_settings(machine))
    except BaseException as exc:  # noqa: BLE001 - sorted below
        violation = find_violation(exc)
        if violation is None:
            raise
    finally:
        if saved is not None:
            engine.MAX_SHRINKING_SECONDS = saved  # type: ignore[attr-defined]
    return MachineResult(machine.__name__, adapter.name, violation is None, bound.stats.examples,
                         time.monotonic() - t0, bound.stats.first_failure, violation)
