"""Hypothesis state machines that race one client against one mock server.

Both machines share the rules of :class:`RaceMachine`; they differ in how many replicas they run:

* :class:`TabsMachine`: one client process (replica) with up to four tabs, restarts, bursts;
* :class:`ReplicasMachine`: two or three replicas on one shared store, possibly of two tenants.

Each example starts a fresh mock (port 0, a ManualClock) whose AS behaves like one of
:data:`AS_PROFILES` (hypothesis picks), and the first replicas, logged in or not (hypothesis picks).
The rules then interleave: opening tabs, starting, stopping and restarting replicas, tool calls and
bursts, access-token expiry (the manual clock), revocation, injected token-endpoint and /authorize
errors (including ``error=`` callbacks), the store losing its locks, holding / releasing the mock's
gates, and a staged refresh race. Every rule waits for the world to settle (every operation done or
parked at a gate; requests take turns, see :mod:`suites.properties.quiescence`), then the invariants of
:mod:`suites.properties.invariants` are checked over the whole journal. A violation raises
:class:`InvariantViolation`, whose message is the numbered story.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from harness.model import DEFAULT_REVISION
from suites.properties import story
from suites.properties.driver import Replica, Tab, World
from suites.properties.invariants import INVARIANTS, CallRecord, Violation, check_all

#: The authorization servers the machines race against: (plain words, knobs).
AS_PROFILES: dict[str, tuple[str, dict[str, Any]]] = {
    "auth0": ("rotates refresh tokens and revokes the whole family on reuse, no grace window (Auth0-like)",
              {"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_mode": "none",
               "grace_s": 0}),
    "reject": ("rotates refresh tokens and refuses a reused one, keeping the family (reuse detection off)",
               {"rotate_refresh_tokens": True, "reuse_policy": "reject", "grace_mode": "none", "grace_s": 0}),
    "google": ("never rotates, and answers refreshes without a refresh_token (Google-like)",
               {"rotate_refresh_tokens": False, "refresh_omits_refresh_token": True}),
    "okta": ("rotates refresh tokens with a 30 s reuse grace window that re-issues (Okta-like)",
             {"rotate_refresh_tokens": True, "reuse_policy": "revoke_family", "grace_mode": "reissue_new",
              "grace_s": 30}),
}
#: Every profile: distinct (opaque) access tokens, so the journal's 8-char prefixes identify them.
BASE_KNOBS: dict[str, Any] = {"jwt_access_tokens": False}

#: Gates the machine may hold: kind -> (endpoint, phase, match, plain words).
GATES: dict[str, tuple[str, str, dict[str, str], str]] = {
    "token-requests": ("token", "request", {}, "token-endpoint requests"),
    "token-answers": ("token", "response", {}, "token-endpoint answers (the AS has already committed)"),
    "consent": ("authorize", "request", {}, "the browser's /authorize"),
    "tool-calls": ("mcp", "request", {"method": "tools/call"}, "tool calls"),
}
MAX_TABS = 4
#: refresh_race variants: (gate kind, revoke rather than expire, the store then loses its locks)
RACE_STAGINGS: list[tuple[str, bool, bool]] = [
    (kind, revoke, failover) for kind in ("token-requests", "token-answers")
    for revoke in (False, True) for failover in (False, True)]


@dataclass
class Stats:
    """Counts for bench/property_detection.py: examples run, and when the first one failed."""

    examples: int = 0
    started: float = field(default_factory=time.monotonic)
    first_failure: tuple[int, float] | None = None  # (example number, seconds since start)

    def failed(self) -> None:
        if self.first_failure is None:
            self.first_failure = (self.examples, time.monotonic() - self.started)


class InvariantViolation(AssertionError):
    """An invariant broke; ``str()`` is the story a client maintainer reads."""

    def __init__(self, violations: list[Violation], steps: list[str], client: str, machine: str) -> None:
        self.violations = violations
        self.steps = steps
        self.client = client
        self.machine = machine
        v = violations[0]
        head = [f"{machine} against {client}: invariant {v.invariant} broken "
                f"[{', '.join(v.requirements)}]", f"  {INVARIANTS[v.invariant][1]}", f"  {v.message}"]
        for other in violations[1:]:
            head.append(f"  also {other.invariant}: {other.message}")
        super().__init__("\n".join(head + ["What happened:"] + steps))

    @property
    def invariant(self) -> str:
        return self.violations[0].invariant


class RaceMachine(RuleBasedStateMachine):
    """The shared rules. Bind an adapter with :func:`suites.properties.runner.bind` before running."""

    adapter: ClassVar[Any] = None
    revision: ClassVar[str] = DEFAULT_REVISION
    stats: ClassVar[Stats] = Stats()
    MAX_REPLICAS: ClassVar[int] = 1
    TENANTS: ClassVar[tuple[str, ...]] = ("default",)
    EXAMPLES_FACTOR: ClassVar[float] = 1.0  # scales the profile's example budget (runner.machine_settings)

    def __init__(self) -> None:
        super().__init__()
        type(self).stats.examples += 1
        self.world: World | None = None
        self.steps: list[story.Step] = []
        self.reported: set[int] = set()
        self.failed = False

    # -- bookkeeping ----------------------------------------------------------------------------------
    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    def _begin(self, text: str) -> story.Step:
        st_ = story.Step(len(self.steps) + 1, text, self.w.journal.last_seq)
        self.steps.append(st_)
        self.w.journal.record("harness", endpoint="harness", do="machine_step", step=st_.number, text=text)
        st_.first_seq = self.w.journal.last_seq
        return st_

    def _end(self, st_: story.Step) -> None:
        if not self.w.settle():
            st_.notes.append("the client was still busy after 15 s without waiting at any gate")
        for i, op in enumerate(self.w.ops):
            if op.done and i not in self.reported:
                self.reported.add(i)
                ok, err, detail = op.outcome()
                st_.notes.append(f"{op.label}: " + ("ok" if ok else f"failed ({err}: {detail[:120]})"))
        st_.last_seq = self.w.journal.last_seq

    def _setup(self, profile: str, replicas: int = 1, tabs: int = 0) -> None:
        """The AS profile and the first replicas; ``tabs`` > 0: each opens that many tabs at once (a
        logged-in start saves the search a few steps; 0 leaves the first login to the rules)."""
        words, knobs = AS_PROFILES[profile]
        self.world = World(self.adapter, {**BASE_KNOBS, **knobs}, revision=self.revision)
        st_ = self._begin(f"The AS {words}.")
        for _ in range(replicas):
            rep = self.w.start_replica(self.TENANTS[0])
            st_.text += f" {rep.name} starts (tenant {rep.tenant})"
            if tabs:
                names = [f"{rep.name}/tab-{rep.next_tab + i}" for i in range(tabs)]
                st_.text += f" and opens {', '.join(names)}" + (" at once" if tabs > 1 else "")
            st_.text += "."
        for rep in list(self.w.replicas.values()):
            for _ in range(tabs):
                self.w.open_tab(rep)
        self._end(st_)

    def _replica(self, index: int) -> Replica | None:
        reps = list(self.w.replicas.values())
        return reps[index % len(reps)] if reps else None

    def _tab(self, index: int) -> tuple[Replica, Tab] | None:
        tabs = self.w.live_tabs()
        return tabs[index % len(tabs)] if tabs else None

    def _revoke_allowed(self) -> bool:
        """Revoke / expire only while no in-flight operation has already been given fresh tokens: a
        second rejection of a just-refreshed token would legitimately send a correct client to the
        browser, and that must not look like a bug."""
        w = self.w
        pending = [op.start_seq for op in w.ops if not op.done]
        if not pending:
            return True
        since = min(pending)
        return not w.journal.entries("token_issued", since=since)

    # -- rules: clients -------------------------------------------------------------------------------
    @precondition(lambda self: self.world is not None and any(len(r.tabs) < MAX_TABS
                                                              for r in self.world.replicas.values()))
    @rule(replica=st.integers(0, 3), n=st.integers(1, 3))
    def open_tabs(self, replica: int, n: int) -> None:
        rep = self._replica(replica)
        assert rep is not None
        n = max(1, min(n, MAX_TABS - len(rep.tabs)))
        st_ = self._begin(f"{rep.name} opens {n} tab{'s at once' if n > 1 else ''} "
                          f"({', '.join(f'{rep.name}/tab-{rep.next_tab + i}' for i in range(n))})")
        for _ in range(n):
            self.w.open_tab(rep)
        self._end(st_)

    @precondition(lambda self: self.world is not None and bool(self.world.live_tabs()))
    @rule(tab=st.integers(0, 7), n=st.integers(1, 3))
    def call(self, tab: int, n: int) -> None:
        got = self._tab(tab)
        assert got is not None
        rep, t = got
        st_ = self._begin(f"{t.label} calls echo" + (f" {n} times at once" if n > 1 else ""))
        for i in range(n):
            self.w.call(rep, t, text=f"call-{len(self.steps)}-{i}")
        self._end(st_)

    @precondition(lambda self: self.world is not None and len(self.world.live_tabs()) >= 2)
    @rule()
    def call_from_every_tab(self) -> None:
        tabs = self.w.live_tabs()
        st_ = self._begin(f"every tab calls echo at the same time ({', '.join(t.label for _, t in tabs)})")
        for rep, t in tabs:
            self.w.call(rep, t, text=f"all-{len(self.steps)}")
        self._end(st_)

    @precondition(lambda self: self.world is not None and len(self.world.replicas) < self.MAX_REPLICAS)
    @rule(tenant=st.integers(0, 1))
    def start_replica(self, tenant: int) -> None:
        rep = self.w.start_replica(self.TENANTS[tenant % len(self.TENANTS)])
        st_ = self._begin(f"{rep.name} starts on the same store (tenant {rep.tenant}) and opens a tab")
        self.w.open_tab(rep)
        self._end(st_)

    @precondition(lambda self: self.world is not None and len(self.world.replicas) > 1
                  and any(self.world.idle(n) for n in self.world.replicas))
    @rule(replica=st.integers(0, 3))
    def stop_replica(self, replica: int) -> None:
        idle = [r for r in self.w.replicas.values() if self.w.idle(r.name)]
        rep = idle[replica % len(idle)]
        st_ = self._begin(f"{rep.name} stops")
        self.w.stop_replica(rep.name)
        self._end(st_)

    @precondition(lambda self: self.world is not None and any(self.world.idle(n) for n in self.world.replicas))
    @rule(replica=st.integers(0, 3))
    def restart_replica(self, replica: int) -> None:
        idle = [r for r in self.w.replicas.values() if self.w.idle(r.name)]
        rep = idle[replica % len(idle)]
        st_ = self._begin(f"{rep.name} restarts (a new process on the same store) and reopens one tab")
        new = self.w.restart_replica(rep.name)
        self.w.open_tab(new)
        self._end(st_)

    # -- rules: the authorization server --------------------------------------------------------------
    def _then_every_tab_calls(self, st_: story.Step, then_call: bool) -> None:
        """The common sequel of an expiry or a revocation: every open tab makes a call at once."""
        tabs = self.w.live_tabs()
        if then_call and tabs:
            st_.text += f"; then every tab calls echo at the same time ({', '.join(t.label for _, t in tabs)})"
            for rep, t in tabs:
                self.w.call(rep, t, text=f"after-{len(self.steps)}")

    @precondition(lambda self: self.world is not None and self.world.idle())
    @rule(then_call=st.booleans())
    def access_tokens_expire(self, then_call: bool) -> None:
        ttl = float(self.w.knobs.access_token_ttl)
        st_ = self._begin(f"{ttl + 1:g} s pass: every access token has expired")
        self.w.advance_clock(ttl + 1)
        self._then_every_tab_calls(st_, then_call)
        self._end(st_)

    @precondition(lambda self: self.world is not None and self._revoke_allowed())
    @rule(then_call=st.booleans())
    def revoke_access_tokens(self, then_call: bool) -> None:
        st_ = self._begin("the AS revokes every access token (refresh tokens stay valid)")
        self.w.srv.revoke_access_tokens()
        self._then_every_tab_calls(st_, then_call)
        self._end(st_)

    @precondition(lambda self: self.world is not None)
    @rule(error=st.sampled_from(["invalid_grant", "temporarily_unavailable"]),
          grant=st.sampled_from(["refresh_token", "authorization_code"]))
    def token_endpoint_fails_once(self, error: str, grant: str) -> None:
        status = 400 if error == "invalid_grant" else 503
        st_ = self._begin(f"the next {grant} request to the token endpoint will fail with {status} {error}")
        self.w.srv.arm_fault({"endpoint": "token", "action": "error", "status": status, "error": error,
                              "match": {"grant_type": grant}, "times": 1})
        self._end(st_)

    @precondition(lambda self: self.world is not None)
    @rule(kind=st.sampled_from(["callback_error", "error"]),
          error=st.sampled_from(["access_denied", "server_error"]))
    def authorize_fails_once(self, kind: str, error: str) -> None:
        if kind == "callback_error":
            st_ = self._begin(f"the next /authorize will redirect back with error={error}")
            self.w.srv.arm_fault({"endpoint": "authorize", "action": "callback_error", "error": error, "times": 1})
        else:
            st_ = self._begin(f"the next /authorize will show an error page (400 {error})")
            self.w.srv.arm_fault({"endpoint": "authorize", "action": "error", "status": 400, "error": error,
                                  "times": 1})
        self._end(st_)

    @precondition(lambda self: self.world is not None and self.world.idle() and bool(self.world.live_tabs())
                  and not {"token-requests", "token-answers"} & set(self.world.gates))
    @rule(staging=st.sampled_from(RACE_STAGINGS))
    def refresh_race(self, staging: tuple[str, bool, bool]) -> None:
        """The staging most refresh races share, as one rule: the AS turns slow (gate ``kind``), every access
        token stops working (``revoke``d, or expired), and every tab calls at once; with ``failover``, the
        store then loses the lock the first refresh holds. What follows (releases, errors, more calls) is up
        to the other rules. (One argument, not three: hypothesis tries rules with fewer arguments first.)"""
        kind, revoke, failover = staging
        endpoint, phase, match, words = GATES[kind]
        why = "the AS revokes every access token" if revoke else \
            f"{float(self.w.knobs.access_token_ttl) + 1:g} s pass and every access token expires"
        st_ = self._begin(f"the token endpoint turns slow (the mock holds {words}, gate {kind}); {why}")
        self.w.hold(kind, endpoint, phase, match)
        if revoke:
            self.w.srv.revoke_access_tokens()
        else:
            self.w.advance_clock(float(self.w.knobs.access_token_ttl) + 1)
        self._then_every_tab_calls(st_, True)
        self._end(st_)
        if failover and self.w.store.held_locks():
            self.store_loses_locks()

    @precondition(lambda self: self.world is not None and self.world.store.held_locks() > 0)
    @rule()
    def store_loses_locks(self) -> None:
        n = self.w.store.held_locks()
        st_ = self._begin(f"the shared store loses its locks ({n} held), as a failover or a stalled owner's "
                          "lease running out would")
        self.w.lose_locks()
        self._end(st_)

    # -- rules: gates ---------------------------------------------------------------------------------
    @precondition(lambda self: self.world is not None and len(self.world.gates) < len(GATES))
    @rule(kind=st.sampled_from(sorted(GATES)))
    def hold_gate(self, kind: str) -> None:
        free = [k for k in sorted(GATES) if k not in self.w.gates]
        kind = kind if kind in free else free[0]
        endpoint, phase, match, words = GATES[kind]
        st_ = self._begin(f"the mock starts holding {words} (gate {kind})")
        self.w.hold(kind, endpoint, phase, match)
        self._end(st_)

    @precondition(lambda self: self.world is not None and any(g.waiting for g in self.world.gates.values()))
    @rule(kind=st.sampled_from(sorted(GATES)), everyone=st.booleans())
    def release_gate(self, kind: str, everyone: bool) -> None:
        waiting = [k for k in sorted(self.w.gates) if self.w.gates[k].waiting]
        kind = kind if kind in waiting else waiting[0]
        n = self.w.gates[kind].waiting
        st_ = self._begin(f"the mock releases {'all ' + str(n) if everyone and n > 1 else 'the oldest'} "
                          f"request{'s' if everyone and n > 1 else ''} held at gate {kind}")
        self.w.release(kind, None if everyone else 1)
        self._end(st_)

    @precondition(lambda self: self.world is not None and bool(self.world.gates))
    @rule(kind=st.sampled_from(sorted(GATES)))
    def open_gate(self, kind: str) -> None:
        armed = sorted(self.w.gates)
        kind = kind if kind in armed else armed[0]
        st_ = self._begin(f"the mock stops holding at gate {kind} (and lets everything held there go)")
        self.w.open_gate(kind)
        self._end(st_)

    # -- checking -------------------------------------------------------------------------------------
    def _calls(self, *, final: bool = False) -> list[CallRecord]:
        out = []
        for op in self.w.ops:
            if op.done:
                ok, err, detail = op.outcome()
                out.append(CallRecord(op.label, True, ok, err, detail))
            elif final:
                out.append(CallRecord(op.label, False))
        return out

    def _check(self, *, final: bool = False) -> None:
        if self.world is None or self.failed:
            return
        violations = check_all(self.w.journal.entries(), knobs=self.w.knobs, tenant_of=self.w.tenant_of,
                               calls=self._calls(final=final))
        if violations:
            self.failed = True
            type(self).stats.failed()
            lines = story.render(self.steps, self.w.journal.entries())
            raise InvariantViolation(violations, lines, self.adapter.name, type(self).__name__.split("[")[0])

    @invariant()
    def journal_invariants(self) -> None:
        self._check()

    def teardown(self) -> None:
        if self.world is None:
            return
        try:
            if not self.failed:
                st_ = self._begin("the test ends: every gate opens and every call must finish")
                self.w.drain()
                self._end(st_)
                self._check(final=True)
        finally:
            self.w.close()
            self.world = None


class TabsMachine(RaceMachine):
    """One replica with tabs, bursts and restarts, against each AS profile."""

    MAX_REPLICAS = 1

    @initialize(profile=st.sampled_from(list(AS_PROFILES)), tabs=st.integers(0, 2))
    def setup(self, profile: str, tabs: int) -> None:
        self._setup(profile, tabs=tabs)


class ReplicasMachine(RaceMachine):
    """Up to three replicas (in-process client instances) on one shared store; two tenants."""

    MAX_REPLICAS = 3
    TENANTS = ("default", "acme")
    EXAMPLES_FACTOR = 1.5

    @initialize(profile=st.sampled_from(list(AS_PROFILES)), replicas=st.integers(2, 3))
    def setup(self, profile: str, replicas: int) -> None:
        self._setup(profile, replicas, tabs=1)  # they log in at once: the first cross-replica race


MACHINES: tuple[type[RaceMachine], ...] = (TabsMachine, ReplicasMachine)
