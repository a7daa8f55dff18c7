"""C10: the loser of a refresh race must not wipe the winner's fresh tokens.

Trigger: rotation with reuse REJECTED but no family revocation (so whatever breaks is the client's doing,
not the AS's). The main client logs in; every access token is revoked; two replica processes get their
401 together. Replica A takes the store lock and redeems the refresh token (the AS rotates it); A's
response is held. Then the harness deletes the store's locks, as a failover or an expired lease of a
stalled owner would, so replica B takes the lock, re-reads the OLD refresh token (A has not written yet)
and redeems it: ``invalid_grant``, held too. A's response is released first (A writes the new tokens and
retries its call), then B's ``invalid_grant``.

A buggy client (claude-code #84440, Auth0 with leeway 0; opencode #49439) clears the store on
``invalid_grant``, deleting the tokens A just wrote: the next call needs interactive login although
nothing was revoked. A correct client clears by compare-and-swap, only if the stored refresh token is
still the one that failed, then adopts A's tokens: no ``/authorize``.
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, CheckContext, Verdict
from suites.replicas._checks import no_authorize_after_harness

N = 2
REFRESH = {"grant_type": "refresh_token"}


@check("C10.race-forced", ["C10"], title="the loser got invalid_grant after the winner rotated")
def _race_forced(ctx: CheckContext) -> Verdict:
    """Makes the other checks non-vacuous: a loser existed."""
    lost = [e for e in ctx.q.of("token_refused", grant_type="refresh_token") if field(e, "error") == "invalid_grant"]
    won = list(ctx.q.of("refresh_rotated"))
    if not lost or not won:
        return FAIL("the refresh race was not forced: no replica lost a refresh with invalid_grant after another "
                    "rotated the token", won + lost)
    return PASS(f"{lost[0].actor or 'a replica'} lost the race with invalid_grant (#{lost[0].seq})", won + lost)


def _scenario(store: str = "shared", suffix: str = "") -> Scenario:
    return Scenario(
        id=f"replicas/loser_wipes_winner{suffix}",
        title="Two replicas race a refresh; the loser's invalid_grant must not wipe the winner's tokens",
        knobs={"rotate_refresh_tokens": True, "reuse_policy": "reject", "grace_mode": "none", "grace_s": 0},
        gates=[
            {"name": "winner", "endpoint": "token", "match": REFRESH, "phase": "response", "max_holds": 1},
            {"name": "loser", "endpoint": "token", "match": REFRESH, "phase": "response", "max_holds": 1},
        ],
        actions=[
            a.connect(),
            a.call_tool("echo", {"text": "login"}),
            a.restart(),  # the logged-in process goes away; its tokens stay in the shared store
            a.arm_gate(name="calls", endpoint="mcp", match={"method": "initialize"}, release_at=N, max_holds=N,
                       timeout_s=10),
            a.revoke_tokens(),
            a.replicas(N, steps=[a.call_tool("echo", {"text": "after"})], during=[
                a.wait_gate("winner", 1),  # A rotated the refresh token; its response is held
                a.break_locks(),  # the store loses A's lock (failover / a stalled owner's lease ran out)
                a.wait_gate("loser", 1, precondition=True),  # B re-read the OLD token, redeemed it: invalid_grant
                a.release_gate("winner"),
                a.wait_journal("request", 1, endpoint="mcp"),  # A wrote its tokens and retried its call
                a.release_gate("loser"),
            ]),
            a.call_tool("echo", {"text": "next call"}),
        ],
        checks=[
            _race_forced,
            no_authorize_after_harness("revoke_tokens", id="C10.no-interactive-after-race", requirements=["C10"],
                                       why="the loser of the refresh race cleared the winner's fresh tokens"),
            checks.outcome_ok("C10.calls-succeed", ["C10"]),
        ],
        needs={"replicas", "refresh"},
        store=store,  # type: ignore[arg-type]
        markers=("race",),
        timeout_s=60,
    )


test_loser_wipes_winner = _scenario().as_test()
