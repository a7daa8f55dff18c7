"""The adapter protocol. Adapters run a client through an action script and report what happened;
they never decide pass or fail (checks do, from the mock's journal and this outcome)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from harness.model import Action, Outcome, ScenarioEnv


@runtime_checkable
class Adapter(Protocol):
    """``name`` is what the user selects (``reference``, ``mutant:C08-...``, ``cmd:...``) and what reports show.

    ``capabilities`` is a subset of ``harness.model.CAPABILITIES``: dcr, cimd, preregistered, refresh, tabs,
    replicas, restart, step_up, clock, callbacks. ``unavailable`` is None, or why this client cannot run
    here at all (e.g. "Node >= 22 not found"): every check is then SKIPPED with that reason.
    """

    name: str
    capabilities: frozenset[str]
    unavailable: str | None

    async def run(self, env: ScenarioEnv, actions: list[Action]) -> Outcome: ...


class BaseAdapter:
    """Convenience base class: defaults for ``unavailable`` and a readable repr."""

    name: str = "?"
    capabilities: frozenset[str] = frozenset()
    unavailable: str | None = None

    async def run(self, env: ScenarioEnv, actions: list[Action]) -> Outcome:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
