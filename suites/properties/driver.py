"""Driving one client step by step for the race machines: replicas, tabs, calls, restarts.

The machines need finer control than ``Adapter.run(env, actions)`` (one whole script): they start an
operation, let it park at the mock's gates, and decide later what to release. So the driver asks the
adapter for client INSTANCES (``adapter.make_client(env, store)``, which the in-process ``reference`` and
``mutant:<name>`` adapters provide) and runs them on one asyncio loop in a background thread:

* a **replica** is one client instance; all replicas share ONE store (a ``MemoryStore``), so they behave
  like processes on a shared sqlite/redis store, only faster. Locks, CAS and flows all go through that
  store; anything a client keeps "process-local" (in its instance: its in-process locks, caches) stays
  per replica, so a mutant that locks only in-process (C09) races across replicas as it would across
  processes;
* a **tab** is one MCP session of a replica, held open by its own task (the SDK's task groups must be
  entered and left in one task);
* a **restart** closes a replica and builds a new instance on the same store (what a new process sees).

Operations (tab openings, tool calls) return :class:`Op` handles; their outcomes are classified with
``harness.model.classify_error``. :meth:`World.settle` waits, without imposing any order, until every
operation is finished or parked at a gate, and knows it from observed facts, never from a quiet window
(:mod:`suites.properties.quiescence`): interleavings come from the gates and the order of the machine's
rules, never from sleeps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model import Scenario, ScenarioEnv, classify_error
from mock_as.clock import ManualClock
from mock_as.gates import Gate
from mock_as.knobs import Knobs
from mock_as.server import MockServer
from suites.properties.quiescence import Traffic

#: Releasing everyone at a gate, or at the end of a test, goes one request at a time for at most this many
#: requests (a client that keeps coming back to a gate cannot loop forever); the rest then go at once.
DRAIN_RELEASES = 200
#: After all gates are opened, how long every operation gets to finish before it counts as a hang.
DRAIN_S = 20.0
#: Real-time poll interval of the clients' lock and flow waiters (a safety net: the store wakes them).
POLL_SAFETY_S = 10.0
#: Safety net of one settle (a client busy for this long without parking is reported, not waited on).
SETTLE_MAX_S = 15.0

NEEDED_CAPABILITIES = frozenset({"tabs", "restart", "refresh", "clock", "dcr"})


class LoopThread:
    """One asyncio loop in a daemon thread; the machine (pytest's thread) submits coroutines to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="race-machine-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return self.submit(coro).result(timeout)


_LOOP: LoopThread | None = None


def shared_loop() -> LoopThread:
    """The process-wide client loop (created on first use)."""
    global _LOOP
    if _LOOP is None:
        _LOOP = LoopThread()
    return _LOOP


def supports(adapter: Any) -> str | None:
    """None when the machines can drive this adapter, else why not (the test is then SKIPPED)."""
    if getattr(adapter, "unavailable", None):
        return f"client unavailable: {adapter.unavailable}"
    missing = sorted(NEEDED_CAPABILITIES - frozenset(getattr(adapter, "capabilities", ())))
    if missing:
        return f"client lacks capability {', '.join(missing)}"
    if not callable(getattr(adapter, "make_client", None)):
        return (f"{adapter.name} runs whole scripts only; the race machines drive client instances step by "
                "step (adapters with make_client(env, store): reference, mutant:<name>)")
    return None


@dataclass
class Op:
    """One client operation in flight (a tab opening or a tool call)."""

    label: str  # "replica-1/tab-2 calls echo"
    replica: str
    future: concurrent.futures.Future[Any]
    start_seq: int
    result: tuple[bool, str | None, str] | None = None  # (ok, classified error, detail)

    @property
    def done(self) -> bool:
        return self.future.done()

    def outcome(self) -> tuple[bool, str | None, str]:
        if self.result is None and self.future.done():
            try:
                self.result = self.future.result()
            except BaseException as exc:  # noqa: BLE001 - a driver-level failure is an outcome too
                self.result = (False, classify_error(exc), f"{type(exc).__name__}: {exc}")
        return self.result if self.result is not None else (False, None, "")


@dataclass
class Tab:
    label: str
    ready: concurrent.futures.Future[Any]
    closing: asyncio.Event
    task: concurrent.futures.Future[Any]


@dataclass
class Replica:
    name: str
    tenant: str
    client: Any
    tabs: list[Tab] = field(default_factory=list)
    next_tab: int = 1
    generation: int = 1


class World:
    """The mock server, the shared store and the replicas of ONE hypothesis example."""

    def __init__(self, adapter: Any, knobs: dict[str, Any], *, revision: str = "2025-11-25",
                 state_dir: Path | None = None) -> None:
        from client_under_test.stores import MemoryStore

        self.adapter = adapter
        self.loop = shared_loop()
        self.clock = ManualClock()
        self.knobs = Knobs().patched(knobs)
        self.srv = MockServer(knobs=self.knobs, clock=self.clock).start()
        # Waiters are woken by every write, so their real-time polls are only a safety net: make them
        # rare, or a poll firing mid-step could reorder two waiters (and the interleaving with them).
        self.store = MemoryStore(now=self.clock.now, lock_poll_s=POLL_SAFETY_S)
        self.traffic = Traffic()
        self.srv.journal.subscribe(self.traffic.poke)
        self.revision = revision
        self.state_dir = state_dir or Path("/tmp")
        self.replicas: dict[str, Replica] = {}
        self.ops: list[Op] = []
        self.gates: dict[str, Gate] = {}
        self._gate_serial = 0
        self._replica_serial = 0
        self.tenants: dict[str, str] = {}  # every replica name ever started -> its tenant
        self.hung = False
        self.stuck: list[int] = []  # exchanges a timed-out settle found neither answered nor parked

    # -- plumbing -----------------------------------------------------------------------------------
    @property
    def journal(self) -> Any:
        return self.srv.journal

    def note(self, text: str) -> None:
        """A harness entry in the mock's journal (shows in reports and stories)."""
        self.journal.record("harness", endpoint="harness", do="note", note=text)

    def _env(self, replica: str, tenant: str, generation: int = 1) -> ScenarioEnv:
        from client_under_test.reference import RetryPolicy

        scenario = Scenario(
            id="properties/race-machine", title="hypothesis race machine", actions=(), checks=(),
            # no real-time backoff (the machine's steps are fast); bounded waits for flows and locks
            context={"tenant": tenant, "retry": RetryPolicy(attempts=3, backoff_base_s=0.0),
                     "flow_poll_s": POLL_SAFETY_S,
                     "flow_wait_s": DRAIN_S, "lock_wait_s": DRAIN_S, "http_timeout_s": DRAIN_S,
                     "lock_lease_s": 60.0},
            user_agent={"actor": f"{replica}/browser", "timeout_s": DRAIN_S})
        return ScenarioEnv(scenario=scenario, server=self.srv, server_url=self.srv.mcp_url, store_spec="memory",
                           state_dir=self.state_dir, revision=self.revision, clock=self.clock,
                           client_name=self.adapter.name,
                           traffic=self.traffic.port(_owner(replica, generation)))

    def tenant_of(self, actor: str | None) -> str | None:
        """The tenant of a journal actor label ("replica-2/tab-1" -> that replica's tenant)."""
        if not actor:
            return None
        return self.tenants.get(actor.split("/", 1)[0])

    # -- replicas and tabs --------------------------------------------------------------------------
    def start_replica(self, tenant: str = "default") -> Replica:
        self._replica_serial += 1
        name = f"replica-{self._replica_serial}"
        rep = Replica(name, tenant, self.adapter.make_client(self._env(name, tenant), self.store))
        self.replicas[name] = rep
        self.tenants[name] = tenant
        return rep

    def idle(self, replica: str | None = None) -> bool:
        return all(op.done for op in self.ops if replica is None or op.replica == replica)

    def stop_replica(self, name: str) -> None:
        rep = self.replicas.pop(name)
        self._close_replica(rep)

    def restart_replica(self, name: str) -> Replica:
        rep = self.replicas[name]
        self._close_replica(rep)
        gen = rep.generation + 1
        new = Replica(name, rep.tenant, self.adapter.make_client(self._env(name, rep.tenant, gen), self.store),
                      generation=gen)
        self.replicas[name] = new
        return new

    def _close_replica(self, rep: Replica) -> None:
        # A stopped process sends nothing more: its requests fail from now on, and its sessions are cancelled
        # (no graceful DELETE, whose 401 after a revocation would start a refresh that could be cut off
        # half-way and lose a rotated token).
        self.traffic.kill(_owner(rep.name, rep.generation))
        for tab in rep.tabs:
            tab.task.cancel()
        for tab in rep.tabs:
            with contextlib.suppress(BaseException):
                tab.task.result(5.0)
        rep.tabs.clear()
        with contextlib.suppress(BaseException):
            self.loop.run(_aclose(rep.client), DRAIN_S)

    def open_tab(self, rep: Replica) -> Op:
        label = f"{rep.name}/tab-{rep.next_tab}"
        rep.next_tab += 1
        ready: concurrent.futures.Future[Any] = concurrent.futures.Future()
        closing_box: dict[str, asyncio.Event] = {}
        made = threading.Event()

        async def make_event() -> None:
            closing_box["e"] = asyncio.Event()
            made.set()

        self.loop.run(make_event())
        closing = closing_box["e"]
        task = self.loop.submit(_tab_main(rep.client, label, ready, closing))
        rep.tabs.append(Tab(label, ready, closing, task))
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def done(r: concurrent.futures.Future[Any]) -> None:
            if fut.done():  # the world was closed first (it cancels what never finished)
                return
            exc = concurrent.futures.CancelledError() if r.cancelled() else r.exception()
            fut.set_result((True, None, "") if exc is None else
                           (False, classify_error(exc), f"{type(exc).__name__}: {exc}"))

        ready.add_done_callback(done)
        op = Op(f"{label} opens an MCP session", rep.name, fut, self.journal.last_seq)
        self.ops.append(op)
        return op

    def live_tabs(self) -> list[tuple[Replica, Tab]]:
        """Tabs whose session is up (opened successfully and not closed)."""
        out = []
        for rep in self.replicas.values():
            for tab in rep.tabs:
                if tab.ready.done() and tab.ready.exception() is None and not tab.task.done():
                    out.append((rep, tab))
        return out

    def call(self, rep: Replica, tab: Tab, tool: str = "echo", text: str = "hi") -> Op:
        session = tab.ready.result()
        fut = self.loop.submit(_call(session, tool, text))
        op = Op(f"{tab.label} calls {tool}", rep.name, fut, self.journal.last_seq)
        self.ops.append(op)
        return op

    # -- gates, faults, clock -----------------------------------------------------------------------
    def hold(self, kind: str, endpoint: str, phase: str = "request", match: dict[str, str] | None = None) -> Gate:
        self._gate_serial += 1
        gate = Gate(name=f"{kind}#{self._gate_serial}", endpoint=endpoint, phase=phase,  # type: ignore[arg-type]
                    match=match or {}, timeout_s=DRAIN_S * 2)
        self.srv.arm_gate(gate)
        self.gates[kind] = gate
        return gate

    def release(self, kind: str, count: int | None = 1) -> int:
        """Release ``count`` parked requests (None: all, including any that park meanwhile, up to
        ``DRAIN_RELEASES``), oldest first, ONE AT A TIME: each runs (with whatever it leads to) until the
        world is stable again before the next goes."""
        gate = self.gates[kind]
        n = 0
        while n < (DRAIN_RELEASES if count is None else count) and gate.release(1):
            n += 1
            self._await_released(gate)
            self.settle()
        return n

    def open_gate(self, kind: str) -> None:
        """Release everyone parked at ``kind`` (one at a time), then stop holding there."""
        self.release(kind, None)
        gate = self.gates.pop(kind)
        self.srv.gates.remove(gate.name)
        self._await_released(gate)

    def _await_released(self, gate: Gate) -> None:
        """Block until the mock has journaled every release of ``gate``. A release is handed to the
        server's loop; until that loop runs it, the journal still shows the request parked, and a settle
        would wrongly find the world at rest."""
        want = gate.describe()["released_total"]
        self.journal.wait_for(lambda es: sum(1 for e in es if e.kind == "gate_released"
                                             and e.data.get("gate") == gate.name) >= want, SETTLE_MAX_S)

    def open_all_gates(self) -> None:
        for kind in list(self.gates):
            self.open_gate(kind)
        self.srv.gates.clear()

    # -- waiting ------------------------------------------------------------------------------------
    def advance_clock(self, seconds: float) -> None:
        """Advance the shared manual clock; store waiters re-check at once (a flow may have expired)."""
        self.srv.advance_clock(seconds)
        self.store.notify_changed()

    def exchanges(self) -> tuple[set[int], set[int], set[str]]:
        """(exchanges the mock has not answered, those parked at a gate, the parked ones' request ids).

        GET /mcp (the SSE stream a session keeps open) never ends and is not counted.
        """
        open_x: set[int] = set()
        parked: set[int] = set()
        rid_of: dict[int, str] = {}
        for e in self.journal.entries():
            x = e.exchange
            if x is None:
                continue
            if e.kind == "request":
                if not (e.endpoint == "mcp" and e.data.get("method") == "GET"):
                    open_x.add(x)
                if e.data.get("rid"):
                    rid_of[x] = e.data["rid"]
            elif e.kind == "response":
                open_x.discard(x)
                parked.discard(x)
            elif e.kind == "gate_held":
                parked.add(x)
            elif e.kind == "gate_released":
                parked.discard(x)
        return open_x, parked, {rid_of[x] for x in parked if x in rid_of}

    def stable(self) -> bool | None:
        """One consistent look at the facts of :mod:`suites.properties.quiescence` (queued requests,
        which wait for a turn, do not count: granting turns is the caller's job).

        True: stable. False: a request or an exchange is under way (its end will be journaled or
        counted, which wakes :meth:`settle`). None: only the client's loop was busy (probe again).
        """
        version, inflight, _ = self.traffic.snapshot()
        open_x, parked, parked_rids = self.exchanges()
        if not (open_x <= parked and inflight <= parked_rids):
            return False
        if not self.loop_idle():
            return None
        return self.traffic.snapshot()[0] == version

    def settle(self, max_s: float = SETTLE_MAX_S) -> bool:
        """Run the client, one request at a time, until every operation is done or waits only on what a
        gate holds: whenever the world is stable, the oldest queued request gets its turn; stable with
        nothing queued is settled.

        Returns False when ``max_s`` passed first: a client busy that long without parking anywhere (a
        hang, or real-time waiting); the caller reports it.
        """
        deadline = time.monotonic() + max_s
        while True:
            version = self.traffic.snapshot()[0]
            state = self.stable()
            if state:
                if not self.traffic.grant_next():
                    return True
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if state is None:
                continue  # the loop was busy: the next probe queues behind what it was running
            # Woken by the journal entry or the request count that ends this; the bound is a safety net.
            self.traffic.wait_change(version, min(0.05, remaining))
        open_x, parked, _ = self.exchanges()
        self.stuck = sorted(open_x - parked)
        return False

    def loop_idle(self) -> bool:
        """True when the client loop had no other runnable callback when this probe ran (a busy loop
        delays the probe itself, which is the point)."""
        loop = self.loop.loop
        fut: concurrent.futures.Future[int] = concurrent.futures.Future()

        def probe() -> None:  # the self-pipe wake-up of call_soon_threadsafe is not work
            fut.set_result(sum(1 for h in getattr(loop, "_ready", ())
                               if getattr(getattr(h, "_callback", None), "__name__", "") != "_read_from_self"))

        loop.call_soon_threadsafe(probe)
        try:
            return fut.result(SETTLE_MAX_S) == 0
        except concurrent.futures.TimeoutError:
            return False

    def drain(self) -> list[Op]:
        """Let everything through and wait (bounded) for every operation; returns the ones that hung.

        Parked requests go one at a time, oldest first across gates, settling in between (requests that
        arrive meanwhile park too and take their turn): the end of a test is one interleaving, not
        whatever order the threads of several released requests happen to run in.
        """
        for _ in range(DRAIN_RELEASES):
            self.settle()
            parked = [(g.oldest(), kind) for kind, g in self.gates.items() if g.waiting]
            if not parked:
                break
            _, kind = min(parked, key=lambda p: p[0] or 0)
            self.release(kind, 1)
        self.open_all_gates()
        deadline = time.monotonic() + DRAIN_S
        while (remaining := deadline - time.monotonic()) > 0:
            self.settle(remaining)
            pending = [op.future for op in self.ops if not op.done]
            if not pending:
                break
            # stable, yet an operation is unfinished: it waits on real time (a bounded flow or lock
            # wait) or hangs; give it the rest of the budget, granting turns as it goes
            concurrent.futures.wait(pending, timeout=min(0.05, remaining))
        hung = [op for op in self.ops if not op.done]
        self.hung = bool(hung)
        return hung

    def lose_locks(self) -> int:
        """The shared store loses every lock (a failover, a stalled owner's lease running out)."""
        n = self.loop.run(self.store.break_locks())
        self.journal.record("harness", endpoint="harness", do="locks_lost", locks=n)
        return n

    def close(self) -> None:
        """Close every replica and stop the mock (after :meth:`drain`)."""
        for rep_ in self.replicas.values():
            self.traffic.kill(_owner(rep_.name, rep_.generation))
        with contextlib.suppress(Exception):
            self.open_all_gates()
        for name in list(self.replicas):
            with contextlib.suppress(Exception):
                self.stop_replica(name)
        for op in self.ops:
            if not op.done:
                op.future.cancel()
        self.srv.stop()


def _owner(replica: str, generation: int) -> str:
    """The traffic owner of one replica generation (a restart is a new process)."""
    return f"{replica}#{generation}"


async def _aclose(client: Any) -> None:
    for name in ("aclose", "close"):
        fn = getattr(client, name, None)
        if fn is not None:
            res = fn()
            if asyncio.iscoroutine(res):
                await res
            return


async def _tab_main(client: Any, label: str, ready: concurrent.futures.Future[Any], closing: asyncio.Event) -> None:
    """Hold one MCP session open until told to close; ``ready`` gets the session (or the error)."""
    try:
        async with client.session(actor=label) as session:
            ready.set_result(session)
            await closing.wait()
    except BaseException as exc:
        if not ready.done():
            ready.set_exception(exc)
        if isinstance(exc, asyncio.CancelledError):
            raise


async def _call(session: Any, tool: str, text: str) -> tuple[bool, str | None, str]:
    try:
        result = await session.call_tool(tool, {"text": text})
    except Exception as exc:
        return False, classify_error(exc), f"{type(exc).__name__}: {exc}"
    if getattr(result, "isError", False) or getattr(result, "is_error", False):
        return False, "tool_error", str(getattr(result, "content", ""))[:300]
    return True, None, ""
