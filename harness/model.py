"""The harness's data: actions, scenarios, checks, verdicts, outcomes and the scenario environment.

Everything a scenario says is plain data (dicts and dataclasses), so the same scenario drives an in-process
client, a process-per-segment client and a Node script alike, and so it can be written to results.json.
Races are forced with gates, barriers and the manual clock; nothing here sleeps.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the mock server is only needed at run time
    from mock_as.journal import Entry

#: Spec revisions, oldest first (see ../shared/spec-checklist.md).
REVISIONS: tuple[str, ...] = ("2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
DEFAULT_REVISION = "2025-11-25"

#: What an adapter may declare. A scenario needing one its client lacks is SKIPPED, never passed.
CAPABILITIES: frozenset[str] = frozenset({
    "dcr", "cimd", "preregistered", "refresh", "tabs", "replicas", "restart", "step_up", "clock",
    "callbacks",  # the harness can drive the user agent (deny, delay, duplicate, stale state)
})

Status = Literal["PASS", "FAIL", "WARN", "SKIP", "INFO"]
STATUSES: tuple[str, ...] = ("PASS", "FAIL", "WARN", "SKIP", "INFO")
SEVERITIES: tuple[str, ...] = ("must", "should", "may", "info")

# -- actions -------------------------------------------------------------------------------------------

#: An action is a JSON-able dict with a "do" key. See harness/README.md for every field.
Action = dict[str, Any]

#: Actions the client performs (the adapter executes them).
CLIENT_ACTIONS: frozenset[str] = frozenset({
    "connect", "call_tool", "list_tools", "burst", "open_tabs", "replicas", "restart", "disconnect",
})
#: Actions the harness performs on the mock server (between client steps, or in a step's "during").
HARNESS_ACTIONS: frozenset[str] = frozenset({
    "advance_clock", "revoke_tokens", "expire_tokens", "set_knobs", "arm_fault", "arm_gate",
    "wait_gate", "release_gate", "open_gate", "wait_journal",
    "clear_faults",
    "break_locks",  # delete every lock in the client's shared store (a lost lease / store failover)
})

_REQUIRED: dict[str, tuple[str, ...]] = {
    "call_tool": ("name",), "burst": ("n",), "open_tabs": ("n",), "replicas": ("n",),
    "advance_clock": ("seconds",), "set_knobs": ("knobs",), "arm_fault": ("fault",), "arm_gate": ("gate",),
    "wait_gate": ("gate", "waiting"), "release_gate": ("gate",), "open_gate": ("gate",),
    "wait_journal": ("kind", "count"),
}


class ScriptError(ValueError):
    """An action script is malformed (a scenario bug, reported at collection time)."""


def validate_actions(actions: Iterable[Action], *, nested: bool = False) -> list[Action]:
    """Check an action script's shape; returns it as a list. Raises ScriptError with one line."""
    out = []
    for i, a in enumerate(actions):
        if not isinstance(a, Mapping) or "do" not in a:
            raise ScriptError(f"action #{i} must be a dict with a 'do' key, got {a!r}")
        do = a["do"]
        if do not in CLIENT_ACTIONS | HARNESS_ACTIONS:
            raise ScriptError(f"action #{i}: unknown do={do!r}; known: {', '.join(sorted(CLIENT_ACTIONS | HARNESS_ACTIONS))}")
        missing = [k for k in _REQUIRED.get(do, ()) if k not in a]
        if missing:
            raise ScriptError(f"action #{i} ({do}) lacks {', '.join(missing)}")
        if nested and do in ("replicas", "restart"):
            raise ScriptError(f"action #{i}: {do} cannot be nested inside tabs or replicas")
        if "during" in a:
            if do not in CLIENT_ACTIONS:
                raise ScriptError(f"action #{i}: only client actions take 'during'")
            bad = [d.get("do") for d in a["during"] if d.get("do") not in HARNESS_ACTIONS]
            if bad:
                raise ScriptError(f"action #{i}: 'during' holds harness actions only, not {bad}")
            validate_actions(a["during"])
        if do in ("open_tabs", "replicas") and "steps" in a:
            validate_actions(a["steps"], nested=True)
            if any(s["do"] in HARNESS_ACTIONS for s in a["steps"]):
                raise ScriptError(f"action #{i}: {do} steps are client actions; put harness actions in 'during'")
        out.append(dict(a))
    return out


def is_client_action(action: Action) -> bool:
    return action["do"] in CLIENT_ACTIONS


# -- verdicts and checks -------------------------------------------------------------------------------

@dataclass
class Verdict:
    status: Status
    message: str  # one sentence a client author understands
    evidence: list[Entry] = field(default_factory=list)
    highlight: list[int] = field(default_factory=list)  # seqs to emphasise in the sequence diagram

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if not self.highlight and self.status in ("FAIL", "WARN"):
            self.highlight = [e.seq for e in self.evidence]


def PASS(message: str, evidence: Iterable[Entry] = (), highlight: Iterable[int] = ()) -> Verdict:  # noqa: N802
    return Verdict("PASS", message, list(evidence), list(highlight))


def FAIL(message: str, evidence: Iterable[Entry] = (), highlight: Iterable[int] = ()) -> Verdict:  # noqa: N802
    return Verdict("FAIL", message, list(evidence), list(highlight))


def WARN(message: str, evidence: Iterable[Entry] = (), highlight: Iterable[int] = ()) -> Verdict:  # noqa: N802
    return Verdict("WARN", message, list(evidence), list(highlight))


def SKIP(message: str, evidence: Iterable[Entry] = ()) -> Verdict:  # noqa: N802
    return Verdict("SKIP", message, list(evidence))


def INFO(message: str, evidence: Iterable[Entry] = ()) -> Verdict:  # noqa: N802
    return Verdict("INFO", message, list(evidence))


_SPEC_REQ = re.compile(r"^MCP-(\d{4}-\d{2}-\d{2}):")


@dataclass(frozen=True)
class Check:
    """One judgement over the journal. ``id`` is stable (reports and baselines key on it)."""

    id: str  # e.g. "C08.single-refresh-redemption"
    requirements: tuple[str, ...]  # e.g. ("C08", "RFC6749-6", "MCP-2025-11-25:PKCE-2")
    fn: Callable[[CheckContext], Verdict]
    severity: str = "must"  # must | should (a failed SHOULD is reported WARN by the builders) | may | info
    title: str = ""
    since: str | None = None  # the first revision it applies to; derived from MCP-<rev>: requirements if None

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", tuple(self.requirements))
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.id}: severity must be one of {SEVERITIES}")
        if self.since is None:
            revs = [m.group(1) for r in self.requirements if (m := _SPEC_REQ.match(r))]
            if revs:
                object.__setattr__(self, "since", min(revs))

    def applies_to(self, revision: str) -> bool:
        return self.since is None or revision_index(revision) >= revision_index(self.since)


def revision_index(revision: str) -> int:
    try:
        return REVISIONS.index(revision)
    except ValueError:
        raise ValueError(f"unknown spec revision {revision!r}; choose one of {', '.join(REVISIONS)}") from None


# -- scenarios -----------------------------------------------------------------------------------------

Store = Literal["any", "shared", "memory", "sqlite", "redis"]


@dataclass(frozen=True)
class Scenario:
    """Knobs + fault plan + gates + an action script + the checks that judge it.

    ``store``: "any" runs on the store the user picked; "shared" needs one several processes can share
    (memory is promoted to sqlite); "memory" / "sqlite" / "redis" force one.
    """

    id: str  # "area/name", e.g. "refresh/concurrent-refresh"
    title: str
    actions: tuple[Action, ...]
    checks: tuple[Check, ...]
    knobs: Mapping[str, Any] = field(default_factory=dict)
    preset: str | None = None
    faults: tuple[Mapping[str, Any], ...] = ()
    gates: tuple[Mapping[str, Any], ...] = ()  # mock_as.gates.Gate kwargs, armed before the script
    needs: frozenset[str] = frozenset()
    revisions: tuple[str, ...] | None = None  # None: every revision
    since: str | None = None  # the scenario only applies from this revision on
    store: Store = "any"
    user_agent: Mapping[str, Any] = field(default_factory=dict)  # behaviour of the headless browser
    context: Mapping[str, Any] = field(default_factory=dict)  # extra keys for the client (e.g. client_id)
    timeout_s: float = 60.0  # hard cap on the whole client run; beyond it the outcome is "hang"
    markers: tuple[str, ...] = ()  # pytest markers for the generated tests (e.g. "race", "redis")

    def __post_init__(self) -> None:
        if "/" not in self.id:
            raise ScriptError(f"scenario id {self.id!r} must be 'area/name'")
        object.__setattr__(self, "actions", tuple(validate_actions(self.actions)))
        object.__setattr__(self, "checks", tuple(self.checks))
        object.__setattr__(self, "faults", tuple(self.faults))
        object.__setattr__(self, "gates", tuple(self.gates))
        object.__setattr__(self, "needs", frozenset(self.needs))
        unknown = self.needs - CAPABILITIES
        if unknown:
            raise ScriptError(f"scenario {self.id}: unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")
        ids = [c.id for c in self.checks]
        if len(ids) != len(set(ids)):
            raise ScriptError(f"scenario {self.id}: duplicate check ids {ids}")
        for rev in (self.revisions or ()) + ((self.since,) if self.since else ()):
            revision_index(rev)

    @property
    def area(self) -> str:
        return self.id.split("/", 1)[0]

    def applies_to(self, revision: str) -> bool:
        if self.revisions is not None and revision not in self.revisions:
            return False
        return self.since is None or revision_index(revision) >= revision_index(self.since)

    def as_test(self) -> Callable[..., None]:
        """A pytest test function for this scenario; the plugin parametrizes it over clients x revisions."""
        from harness.plugin import make_scenario_test

        return make_scenario_test(self)


# -- outcomes ------------------------------------------------------------------------------------------

@dataclass
class StepResult:
    action: Action
    ok: bool
    actor: str | None = None
    error: str | None = None  # classified, e.g. "authorization_failed:invalid_grant"
    detail: str = ""  # the raw message, for humans
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"action": {k: v for k, v in self.action.items() if k != "during"}, "ok": self.ok,
                "actor": self.actor, "error": self.error, "detail": self.detail[:500],
                "duration_s": round(self.duration_s, 4)}


@dataclass
class Outcome:
    """What the client did, as the adapter saw it. Checks may read it; they never trust it alone."""

    ok: bool
    steps: list[StepResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # classified: see classify_error
    log: str = ""  # captured stdout/stderr of process clients, bounded

    @property
    def error(self) -> str | None:
        return self.errors[0] if self.errors else None

    def add(self, step: StepResult) -> None:
        self.steps.append(step)
        if not step.ok:
            self.ok = False
            if step.error:
                self.errors.append(step.error)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.errors, "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        steps = [StepResult(action=dict(s.get("action") or {}), ok=bool(s.get("ok")), actor=s.get("actor"),
                            error=s.get("error"), detail=str(s.get("detail") or ""),
                            duration_s=float(s.get("duration_s") or 0.0))
                 for s in data.get("steps") or []]
        errors = [str(e) for e in data.get("errors") or []]
        return cls(ok=bool(data.get("ok")), steps=steps, errors=errors)


ERROR_CLASSES = ("interactive_required", "authorization_failed:<error>", "transient", "timeout", "hang",
                 "driver:<what>", "tool_error", "crash", "exit:<code>")


def classify_error(exc: BaseException) -> str:
    """Map a client exception to a coarse class checks can reason about (adapters report, never judge)."""
    import asyncio

    for e in _chain(exc):  # the reference client's classified errors (client_under_test.reference.errors)
        code = getattr(e, "code", None)
        if isinstance(code, str) and callable(getattr(e, "classify", None)):
            err = getattr(e, "error", None)
            if code == "interactive_auth_required":
                return "interactive_required"
            if code in ("authorization_failed", "token_error", "credentials_dead"):
                return f"authorization_failed:{err or code}"
            if code == "flow_timeout":
                return "timeout"
            return code  # transient, unauthorized, discovery_failed, insufficient_scope, ...
    for e in _chain(exc):
        name = type(e).__name__.lower()
        if "interactive" in name:
            return "interactive_required"
        err = getattr(e, "error", None)
        if isinstance(err, str) and err and ("oauth" in name or "auth" in name or "grant" in name):
            return f"authorization_failed:{err}"
        if isinstance(e, TimeoutError | asyncio.TimeoutError) or "timeout" in name:
            return "timeout"
    for e in _chain(exc):
        name = type(e).__name__.lower()
        mod = type(e).__module__ or ""
        if "auth" in name or "unauthorized" in name:
            return "authorization_failed:unknown"
        if mod.startswith(("httpx", "httpcore", "httpx2")) or isinstance(e, ConnectionError):
            return "transient"
        if "mcperror" in name or "toolerror" in name:
            return "tool_error"
    return "crash"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if e in seen:
            continue
        seen.append(e)
        todo.extend(getattr(e, "exceptions", ()) or ())  # ExceptionGroup from task groups
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                todo.append(nxt)
    return seen


# -- the environment a scenario runs in ----------------------------------------------------------------

@dataclass
class ScenarioEnv:
    """Everything an adapter needs for one run. ``apply``/``during`` are wired by the runner."""

    scenario: Scenario
    server: Any  # mock_as.server.MockServer
    server_url: str
    store_spec: str  # "memory" | "sqlite:PATH" | "redis://..."
    state_dir: Path
    revision: str
    clock: Any  # the mock's ManualClock, shared with in-process clients
    client_name: str = ""
    step_timeout_s: float = 30.0
    notes: list[str] = field(default_factory=list)  # e.g. "redis-server missing: ran on sqlite"
    #: Optional observer of an in-process client's HTTP traffic, with ``httpx()`` and ``httpx2()``
    #: transport factories (suites/properties/quiescence.py); adapters that build client instances use
    #: its transports. None: the clients' default transports.
    traffic: Any = None
    _driver_factory: Any = None  # callable(list[Action]) -> harness.script.Driver
    _apply: Any = None  # callable(Action) -> None

    @property
    def scenario_id(self) -> str:
        return self.scenario.id

    @property
    def needs(self) -> frozenset[str]:
        return self.scenario.needs

    @property
    def user_agent(self) -> Mapping[str, Any]:
        return self.scenario.user_agent

    def apply(self, action: Action) -> None:
        """Perform one harness action on the mock server now (between client steps)."""
        self._apply(action)

    def during(self, actions: list[Action] | None) -> Any:
        """A context manager running ``actions`` in a driver thread while the client step runs."""
        return self._driver_factory(actions or [])

    def context(self, actions: list[Action], *, actor: str = "main", **extra: Any) -> dict[str, Any]:
        """The MCP_CONFORMANCE_CONTEXT document for a process client (see harness/README.md)."""
        offset = self.clock.now() - time.time() if self.clock is not None else 0.0
        return {
            **dict(self.scenario.context),
            "scenario": self.scenario.id,
            "state_dir": str(self.state_dir),
            # a process cannot share a memory store: it persists in state_dir (restarts and replicas keep it)
            "store": self.store_spec if self.store_spec != "memory" else f"sqlite:{self.state_dir / 'client-store.sqlite3'}",
            "actions": [{k: v for k, v in a.items() if k != "during"} for a in actions],
            "actor": actor,
            "revision": self.revision,
            "clock_offset_s": round(offset, 3),
            "user_agent": dict(self.scenario.user_agent),
            **extra,
        }


@dataclass
class CheckContext:
    """What a check sees: the whole journal, the adapter's outcome and the run's facts."""

    entries: list[Entry]
    outcome: Outcome
    scenario: Scenario
    client: str
    revision: str
    knobs: Mapping[str, Any]
    urls: Any = None  # mock_as.context.Urls

    @property
    def q(self) -> Any:
        from harness.journal_query import Query

        return Query(self.entries)
