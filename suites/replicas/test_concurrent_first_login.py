"""C01: N replicas log in for the first time at once; they must share ONE dynamic registration.

Trigger: three client processes on one shared store (sqlite, and redis) start with no registration and no
tokens. A barrier on the protected-resource metadata makes them discover the server together; the first
interactive flow is then held at ``/authorize`` (no tokens exist yet, so nobody can skip the flow).
A buggy client (LibreChat #11925, Okta behind 3 replicas on Redis) registers once per flow and overwrites
the stored registration: 3 ``/register`` calls, and flows whose code is redeemed by another client. A
correct client registers under a cross-process lock with a re-read and ``put_registration(if_absent)``:
one ``/register``; every code is redeemed by the client it was issued to. While ``/authorize`` is held,
the driver gives the other replicas a short quiet window (1 s) to send their ``/register``; a correct client
never does, so the window only costs time for correct clients.
"""

from __future__ import annotations

from harness import Check, Scenario, checks
from harness import actions as a
from harness.checks import check
from harness.model import FAIL, PASS, SKIP, CheckContext, Verdict

N = 3


@check("C01.one-registration", ["C01", "RFC7591-3"], title="one /register per (issuer, redirect_uris)")
def _one_registration(ctx: CheckContext) -> Verdict:
    regs = list(ctx.q.requests("register"))
    if not regs:
        return SKIP("no replica registered dynamically (pre-registered or CIMD client): nothing to judge")
    if len(regs) > 1:
        return FAIL(f"{len(regs)} /register calls by {', '.join(sorted({str(e.actor) for e in regs}))} for one "
                    f"(issuer, redirect_uris): each replica registered its own client instead of reusing the "
                    f"stored registration", regs)
    return PASS(f"one /register ({regs[0].actor}); the other replicas reused the stored registration", regs)


def _checks() -> list[Check]:
    return [
        _one_registration,
        checks.code_exchanged_with_own_client_id(id="C01.code-bound-to-client", requirements=["C01", "RFC6749-4.1.3"]),
        checks.outcome_ok("C01.replicas-succeed", ["C01"]),
    ]


def _scenario(store: str, suffix: str = "") -> Scenario:
    return Scenario(
        id=f"replicas/concurrent_first_login{suffix}",
        title=f"{N} replicas on one {store} store log in for the first time at once",
        knobs={"enforce_client_id": True},
        gates=[
            {"name": "discovery", "endpoint": "prm", "release_at": N, "max_holds": N, "timeout_s": 10},
            {"name": "authorize", "endpoint": "authorize", "max_holds": 1},
        ],
        actions=[
            a.replicas(N, steps=[a.connect(), a.call_tool("echo", {"text": "hi"})], during=[
                a.wait_gate("authorize", 1),  # the first flow is in the browser; no tokens exist yet
                # a buggy client registers once per replica; a correct one never sends another /register
                a.wait_journal("request", N, endpoint="register", since="start", timeout_s=1, optional=True),
                a.open_gate("authorize"),
            ]),
        ],
        checks=_checks(),
        needs={"replicas", "dcr"},
        store=store,  # type: ignore[arg-type]
        markers=("race",),
        timeout_s=60,
    )


test_concurrent_first_login = _scenario("shared").as_test()
