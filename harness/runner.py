"""Run one scenario against one client and one spec revision; return one result dict per check.

The client runs in its own thread and event loop under a hard overall timeout: a client that never
returns is a classified ``hang`` (all gates are opened, the run is cancelled), never a stuck CI job.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from harness.model import (
    Check,
    CheckContext,
    Outcome,
    Scenario,
    ScenarioEnv,
    Verdict,
)
from harness.script import Driver, HarnessActions

JOURNAL_LIMIT = 200
HANG_GRACE_S = 5.0


def resolve_store(scenario: Scenario, store: str, state_dir: Path) -> tuple[str, str | None]:
    """The concrete store spec for this run, and a note when it differs from what was asked.

    ``store`` is the user's choice: "memory", "sqlite", or a running redis URL ("redis://...").
    """
    sqlite = f"sqlite:{state_dir / 'store.sqlite3'}"

    def redis(url: str) -> str:
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}prefix=h{uuid.uuid4().hex[:10]}:"  # isolates runs sharing one redis-server

    want = scenario.store
    if want == "redis":
        if store.startswith("redis"):
            return redis(store), None
        return sqlite, "this scenario wants redis but no redis-server is running: it ran on sqlite"
    if want == "sqlite":
        return sqlite, None
    if want == "memory":
        return "memory", None
    if store.startswith("redis"):
        return redis(store), None
    if store == "sqlite" or (want == "shared" and store == "memory"):
        return sqlite, None
    return "memory", None


def _knobs(scenario: Scenario) -> Any:
    from mock_as.knobs import Knobs, from_preset

    if scenario.preset:
        return from_preset(scenario.preset, **dict(scenario.knobs))
    return Knobs().patched(dict(scenario.knobs)) if scenario.knobs else Knobs()


def skipped(scenario: Scenario, client: str, revision: str, reason: str, *, store: str = "") -> list[dict[str, Any]]:
    return [_row(scenario, c, client, revision, Verdict("SKIP", reason), 0.0, [], store, []) for c in scenario.checks]


def run_scenario(scenario: Scenario, adapter: Any, revision: str, store_spec: str, tmpdir: Path | str, *,
                 step_timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Run ``scenario`` for ``adapter`` at ``revision``; one dict per check (see harness/README.md)."""
    name = adapter.name
    if not scenario.applies_to(revision):
        return skipped(scenario, name, revision, f"not applicable to spec revision {revision}")
    if getattr(adapter, "unavailable", None):
        return skipped(scenario, name, revision, f"client unavailable: {adapter.unavailable}")
    missing = sorted(scenario.needs - frozenset(adapter.capabilities))
    if missing:
        return skipped(scenario, name, revision, f"client lacks capability {', '.join(missing)}")

    from mock_as.clock import ManualClock
    from mock_as.faults import Fault
    from mock_as.gates import Gate
    from mock_as.server import MockServer

    state_dir = Path(tmpdir) / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    spec, note = resolve_store(scenario, store_spec, state_dir)
    notes = [note] if note else []
    clock = ManualClock()
    t0 = time.monotonic()
    with MockServer(knobs=_knobs(scenario), clock=clock) as srv:
        for g in scenario.gates:
            srv.arm_gate(Gate(**dict(g)))
        for f in scenario.faults:
            srv.arm_fault(Fault.model_validate(dict(f)))
        harness = HarnessActions(srv)
        harness.store_spec = spec
        env = ScenarioEnv(scenario=scenario, server=srv, server_url=srv.mcp_url, store_spec=spec,
                          state_dir=state_dir, revision=revision, clock=clock, client_name=name,
                          step_timeout_s=step_timeout_s, notes=notes,
                          _driver_factory=lambda actions: Driver(harness, actions),
                          _apply=lambda action: harness.apply(action))
        outcome = _run_client(adapter, env, list(scenario.actions), scenario.timeout_s, harness)
        for err in harness.errors:
            outcome.errors.append(err)
            outcome.ok = False
        harness.open_all_gates()
        entries = srv.journal.entries()
        ctx = CheckContext(entries=entries, outcome=outcome, scenario=scenario, client=name, revision=revision,
                           knobs=dict(scenario.knobs), urls=srv.urls)
        if harness.preconditions_failed:  # the interleaving could not be forced: judge nothing
            reason = f"precondition not met with this client: {harness.preconditions_failed[0]}"
            verdicts = [(c, Verdict("SKIP", reason)) for c in scenario.checks]
        else:
            verdicts = [(c, evaluate(c, ctx)) for c in scenario.checks]
    duration = time.monotonic() - t0
    rows = []
    for check, verdict in verdicts:
        journal = excerpt(entries, [e.seq for e in verdict.evidence] + list(verdict.highlight))
        row = _row(scenario, check, name, revision, verdict, duration, journal, spec, notes)
        row["outcome"] = {"ok": outcome.ok, "errors": outcome.errors[:20]}
        if outcome.log and verdict.status == "FAIL":
            row["client_log"] = outcome.log[-4000:]
        rows.append(row)
    return rows


def evaluate(check: Check, ctx: CheckContext) -> Verdict:
    """One check's verdict. Not-yet-applicable checks SKIP; a failed SHOULD is a WARN."""
    if not check.applies_to(ctx.revision):
        return Verdict("SKIP", f"not applicable to spec revision {ctx.revision} (since {check.since})")
    try:
        verdict = check.fn(ctx)
    except Exception as exc:
        tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
        return Verdict("FAIL", f"the check itself crashed (a harness bug): {type(exc).__name__}: {exc} [{tb}]")
    if not isinstance(verdict, Verdict):
        return Verdict("FAIL", f"the check returned {type(verdict).__name__}, not a Verdict (a harness bug)")
    if verdict.status == "FAIL" and check.severity in ("should", "may"):
        verdict = Verdict("WARN", verdict.message, verdict.evidence, verdict.highlight)
    return verdict


def _run_client(adapter: Any, env: ScenarioEnv, actions: list[Any], timeout_s: float,
                harness: HarnessActions) -> Outcome:
    box: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        box["loop"] = asyncio.get_running_loop()
        box["task"] = asyncio.current_task()
        started.set()
        box["outcome"] = await adapter.run(env, actions)

    def target() -> None:
        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            box["cancelled"] = True
        except BaseException as exc:  # noqa: BLE001 - reported as the outcome
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"client:{adapter.name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        harness.open_all_gates()
        loop, task = box.get("loop"), box.get("task")
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        thread.join(HANG_GRACE_S)
        return Outcome(ok=False, errors=["hang"], log=f"the client did not finish within {timeout_s}s")
    if "error" in box:
        from harness.model import StepResult, classify_error

        exc = box["error"]
        out = Outcome(ok=False)
        out.add(StepResult({"do": "run"}, False, None, classify_error(exc), f"{type(exc).__name__}: {exc}"))
        out.log = "".join(traceback.format_exception(exc))[-4000:]
        return out
    out = box.get("outcome")
    if not isinstance(out, Outcome):
        return Outcome(ok=False, errors=["crash"], log=f"the adapter returned {out!r}, not an Outcome")
    return out


def entry_dict(entry: Any) -> dict[str, Any]:
    d = entry.to_dict() if hasattr(entry, "to_dict") else dict(entry)
    try:
        from reports.redact import redact

        return redact(d)
    except ImportError:  # pragma: no cover - reports is part of the project
        return d


def excerpt(entries: list[Any], focus: list[int], limit: int = JOURNAL_LIMIT) -> list[dict[str, Any]]:
    """At most ``limit`` entries for the sequence diagram: all of them, or the ones around ``focus``."""
    if len(entries) <= limit:
        return [entry_dict(e) for e in entries]
    keep: set[int] = set()
    by_seq = [e.seq for e in entries]
    for seq in sorted(set(focus)):
        if seq in by_seq:
            i = by_seq.index(seq)
            keep.update(range(max(0, i - 10), min(len(entries), i + 11)))
    i = 0
    while len(keep) < limit and i < len(entries):
        keep.add(i)
        i += 1
    return [entry_dict(entries[i]) for i in sorted(keep)[:limit]]


def _row(scenario: Scenario, check: Check, client: str, revision: str, verdict: Verdict, duration: float,
         journal: list[dict[str, Any]], store: str, notes: list[str]) -> dict[str, Any]:
    return {
        "client": client,
        "scenario": scenario.id,
        "scenario_title": scenario.title,
        "area": scenario.area,
        "check": check.id,
        "title": check.title,
        "requirements": list(check.requirements),
        "severity": check.severity,
        "status": verdict.status,
        "revision": revision,
        "message": verdict.message,
        "duration_s": round(duration, 4),
        "evidence": [entry_dict(e) for e in verdict.evidence],
        "highlight": list(verdict.highlight),
        "journal": journal,
        "store": store.split("?", 1)[0],
        "notes": list(notes),
    }
