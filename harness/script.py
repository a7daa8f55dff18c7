"""Running an action script: harness actions on the mock, the concurrent driver, and process segments.

Two kinds of harness action placement:

* **between** client steps (a top-level harness action): applied once the previous client step has
  finished and before the next one starts;
* **during** a client step (``{"do": "burst", ..., "during": [...]}``): a driver thread runs them while the
  step is in flight (wait for N requests parked at a gate, revoke, release, ...). Waits are conditions on
  the mock's state, so it does not matter how early the driver starts; if the client step finishes before
  a wait is satisfied the driver gives up at once (it never sleeps out a timeout) and opens every gate.

Process clients (``cmd:``, replicas, Node) cannot pause between steps, so :func:`split_segments` cuts the
script into segments at every between-action, restart and replicas step: one process run per segment,
same ``state_dir`` (a natural restart), the between-actions applied in the gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from harness.model import Action, Outcome, StepResult, classify_error, is_client_action

WAIT_TIMEOUT_S = 15.0  # safety net only: waits end as soon as the client step is over
#: A wait's time runs from the client's first activity after the driver began (a process client's start-up,
#: imports and all, is not part of a scenario's window), for at most this long.
STARTUP_GRACE_S = 30.0
_SLICE_S = 0.05


class DriverError(RuntimeError):
    pass


class HarnessActions:
    """Applies harness actions to one MockServer and journals each as a ``harness`` entry."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.errors: list[str] = []  # classified "driver:..." errors, collected by the runner
        self.preconditions_failed: list[str] = []
        self.store_spec: str | None = None  # the client store (for break_locks); set by the runner
        self._lock = threading.Lock()

    @property
    def journal(self) -> Any:
        return self.server.journal

    def note(self, action: Action, **data: Any) -> None:
        shown = {k: v for k, v in action.items() if k not in ("do",)}
        self.journal.record("harness", actor="harness", data={"do": action["do"], **shown, **data})

    def fail(self, message: str, *, precondition: bool = False) -> None:
        """Record a driver failure and open every gate so the client is never left parked.

        A failed *precondition* wait (``"precondition": true``) means the scenario could not force its
        interleaving with this client (e.g. it never has N calls in flight at once): the runner then
        SKIPs every check with the reason instead of judging a run that did not happen.
        """
        with self._lock:
            self.errors.append(f"driver:{message}")
            if precondition:
                self.preconditions_failed.append(message)
        self.open_all_gates()

    def open_all_gates(self) -> None:
        for g in self.server.gates.describe():
            with contextlib.suppress(KeyError):
                self.server.gates.get(g["name"]).open()

    def apply(self, action: Action, *, done: threading.Event | None = None, since: int = 0,
              origin: int | None = None) -> None:
        """Perform one harness action. Waits give up as soon as ``done`` is set (the client step ended).

        ``since``: the journal seq the driver's previous action ended at (wait_journal counts after it);
        ``origin``: the seq the driver started at (a precondition's idle window starts with the client's
        first activity after it, so a process client's start-up time is never mistaken for quiet)."""
        do = action["do"]
        srv = self.server
        if do == "advance_clock":
            if hasattr(srv, "advance_clock"):
                srv.advance_clock(float(action["seconds"]))  # journaled by the mock as clock_advanced
            else:
                srv.clock.advance(float(action["seconds"]))
        elif do == "revoke_tokens":
            srv.revoke_access_tokens()
        elif do == "expire_tokens":
            srv.expire_access_tokens()
        elif do == "set_knobs":
            srv.set_knobs(**action["knobs"])
        elif do == "arm_fault":
            srv.arm_fault(dict(action["fault"]))
        elif do == "clear_faults":
            srv.faults.clear()  # the outage is over: every armed fault is disarmed
        elif do == "arm_gate":
            from mock_as.gates import Gate

            srv.arm_gate(Gate(**action["gate"]))
        elif do == "release_gate":
            n = srv.gates.get(action["gate"]).release(action.get("count"))
            self.note(action, released=n)
            return
        elif do == "open_gate":
            srv.gates.get(action["gate"]).open()
        elif do == "break_locks":
            self.note(action, broken=self._break_locks())
            return
        elif do == "wait_gate":
            gate = srv.gates.get(action["gate"])
            want = int(action["waiting"])
            self._wait(lambda t: gate.wait_waiting(want, t), f"wait_gate {action['gate']}: fewer than {want} "
                       f"requests parked", action, done, origin)
        elif do == "wait_journal":
            want = int(action["count"])
            kinds = action["kind"]
            match = dict(action.get("match") or {})
            frm = 0 if action.get("since") == "start" else since

            def enough(t: float) -> bool:
                return srv.journal.wait_for(
                    lambda es: _count(es, kinds, match, frm) >= want, t)

            self._wait(enough, f"wait_journal {kinds}: fewer than {want} entries", action, done, origin)
        else:  # pragma: no cover - validate_actions rejects it first
            raise DriverError(f"not a harness action: {do}")
        self.note(action)

    def _break_locks(self) -> int:
        """Delete every lock in the client store: a lost lease or a store failover (the C10 trigger)."""
        import asyncio

        from client_under_test.stores import open_store

        spec = self.store_spec
        if not spec or spec == "memory":
            raise DriverError("break_locks needs a shared store (sqlite or redis)")

        async def run() -> int:
            store = open_store(spec)
            try:
                return int(await store.break_locks())  # type: ignore[attr-defined]
            finally:
                await store.close()

        return asyncio.run(run())

    def _wait(self, attempt: Callable[[float], bool], what: str, action: Action,
              done: threading.Event | None, origin: int | None = None) -> None:
        """Wait until ``attempt`` holds. ``optional`` waits are quiet windows: running out is no error
        (a correct client never sends what a buggy one would; the window gives the buggy one time)."""
        timeout = float(action.get("timeout_s", WAIT_TIMEOUT_S))
        if action.get("precondition"):
            # A precondition fails once the client has gone quiet (no journal entry for timeout_s) or after
            # the absolute cap: a slow, loaded machine delays a concurrent client but never silences it.
            idle_s, cap = timeout, max(timeout, WAIT_TIMEOUT_S)
        else:
            idle_s, cap = None, timeout
        start = began = time.monotonic()
        last_seq, last_change = self.journal.last_seq, start
        active = origin is None or last_seq > origin  # has the client done anything since the driver began?
        while not attempt(_SLICE_S):
            now = time.monotonic()
            if done is None or done.is_set():
                if attempt(0) or action.get("optional"):
                    return
                raise DriverError(f"{what} when the client step ended")
            seq = self.journal.last_seq
            if seq != last_seq:
                last_seq, last_change, active = seq, now, True
            if not active and now - began < STARTUP_GRACE_S:
                start = now  # a process client is still starting: its start-up time is not the wait's
            if idle_s is not None and active and now - last_change > idle_s:
                raise DriverError(f"{what}: the client went quiet for {idle_s:g}s")
            if now - start > cap:
                if action.get("optional"):
                    return
                raise DriverError(f"{what} after {cap:g}s")


def _count(entries: list[Any], kinds: str | list[str], match: dict[str, Any], since: int) -> int:
    ks = {kinds} if isinstance(kinds, str) else set(kinds)
    return sum(1 for e in entries if e.seq > since and e.kind in ks
               and all(getattr(e, k, None) == v or e.data.get(k) == v for k, v in match.items()))


class Driver:
    """Runs "during" actions in a thread while a client step runs. Use ``with`` or ``async with``."""

    def __init__(self, harness: HarnessActions, actions: list[Action]) -> None:
        self.harness = harness
        self.actions = list(actions)
        self.done = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed = False

    def _run(self) -> None:
        since = origin = self.harness.journal.last_seq
        for action in self.actions:
            try:
                self.harness.apply(action, done=self.done, since=since, origin=origin)
            except DriverError as exc:
                self.failed = True
                self.harness.fail(str(exc), precondition=bool(action.get("precondition")))
                return
            except Exception as exc:  # a scenario bug (unknown gate...) must not hang the client
                self.failed = True
                self.harness.fail(f"{action['do']}: {exc}")
                return
            since = self.harness.journal.last_seq

    def start(self) -> Driver:
        if self.actions:
            self._thread = threading.Thread(target=self._run, name="harness-driver", daemon=True)
            self._thread.start()
        return self

    def finish(self, timeout: float = 5.0) -> None:
        self.done.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():  # pragma: no cover - waits poll `done`, so this is a bug
                self.harness.fail("the driver did not stop after the client step ended")

    def __enter__(self) -> Driver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.finish()

    async def __aenter__(self) -> Driver:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.finish)


# -- in-process execution ------------------------------------------------------------------------------

StepFn = Callable[[Action], Awaitable[list[StepResult] | StepResult | None]]


async def execute(env: Any, actions: list[Action], step: StepFn) -> Outcome:
    """Run a script in-process: ``step`` performs one client action; harness actions go to the mock.

    Each client step is bounded by ``env.step_timeout_s``; an exception becomes a classified error and the
    script goes on (later steps still leave evidence in the journal).
    """
    outcome = Outcome(ok=True)
    loop = asyncio.get_running_loop()
    for action in actions:
        if not is_client_action(action):
            await loop.run_in_executor(None, env.apply, action)
            continue
        t0 = time.monotonic()
        try:
            async with env.during(action.get("during")):
                res = await asyncio.wait_for(step(action), env.step_timeout_s)
        except TimeoutError:
            res = StepResult(action, False, error="timeout", detail=f"no result after {env.step_timeout_s}s")
        except Exception as exc:
            res = StepResult(action, False, error=classify_error(exc), detail=f"{type(exc).__name__}: {exc}")
        for r in res if isinstance(res, list) else [res] if res is not None else []:
            if not r.duration_s:
                r.duration_s = time.monotonic() - t0
            outcome.add(r)
    return outcome


# -- process segments ----------------------------------------------------------------------------------

@dataclass
class Segment:
    """One process run (or N concurrent ones for replicas) of a process-based client."""

    before: list[Action] = field(default_factory=list)  # harness actions applied before it starts
    actions: list[Action] = field(default_factory=list)  # client actions for the process (no "during")
    during: list[Action] = field(default_factory=list)  # driver actions while it runs
    replicas: int = 0  # > 0: this many processes, each running `actions`
    context: dict[str, Any] = field(default_factory=dict)  # context keys the last restart changed (C22)

    @property
    def empty(self) -> bool:
        return not self.actions and not self.replicas


def split_segments(actions: list[Action]) -> tuple[list[Segment], list[Action]]:
    """Cut a script into process segments; returns (segments, harness actions left after the last one)."""
    segments: list[Segment] = []
    overrides: dict[str, Any] = {}  # a restart's "context": it holds until the next restart
    cur = Segment()

    def close() -> None:
        nonlocal cur
        if not cur.empty:
            segments.append(cur)
            cur = Segment(context=dict(overrides))

    for a in actions:
        do = a["do"]
        if not is_client_action(a):
            close()
            cur.before.append(a)
        elif do == "restart":
            close()
            overrides = dict(a.get("context") or {})
            cur.context = dict(overrides)
        elif do == "replicas":
            close()
            cur.replicas = int(a["n"])
            cur.actions = [dict(s) for s in a.get("steps") or _default_steps()]
            cur.during = list(a.get("during") or [])
            close()
        else:
            cur.actions.append({k: v for k, v in a.items() if k != "during"})
            cur.during.extend(a.get("during") or [])
    close()
    return segments, cur.before


def _default_steps() -> list[Action]:
    return [{"do": "connect"}, {"do": "call_tool", "name": "echo", "arguments": {"text": "hi"}}]


DEFAULT_STEPS = _default_steps
