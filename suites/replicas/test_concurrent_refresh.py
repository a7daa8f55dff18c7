"""C09: replicas on one shared store see a 401 at once and refresh, under each rotation preset.

Trigger: the main client logs in (tokens in the shared sqlite/redis store); every access token is revoked;
two replica processes start with the stale token. A barrier on ``initialize`` makes both get their 401
together. The first refresh is let through to the AS, which rotates the refresh token; its response is
then held (the slow part of a real refresh). The manual clock is moved past the preset's grace window, and
the driver gives the other replica a short quiet window (1 s) to present the SAME refresh token.

A buggy client (LibreChat #15977, claude-code #74250/#85236/#91641, opencode #49439, codex #17265) has
only an in-process mutex: the second process redeems the old refresh token, outside the grace window,
and Auth0 / Okta / GoTrue revoke the whole family (Entra silently mints a second token line); a replica
ends up needing interactive login. A correct client takes a cross-process lock (sqlite row, redis
``SET NX PX`` with an owner token and compare-and-delete), re-reads the store once it holds it, and adopts
the token the first replica wrote: exactly one redemption, no ``family_revoked``, no ``/authorize``.

The Entra preset runs with ``resource_policy=ignore`` (Entra refuses ``resource`` on refresh; that is C24's
business, not this race's).
"""

from __future__ import annotations

from harness import Scenario, checks
from harness import actions as a
from mock_as.knobs import PRESETS
from suites.replicas._checks import no_authorize_after_harness, single_redemption_per_rt

N = 2
REFRESH = {"grant_type": "refresh_token"}


def refresh_race(n: int, grace_s: float, *, quiet_s: float = 1.0) -> list[dict]:
    """The script: log in, revoke, then n replicas hit the 401 together; the second redemption (a bug) is
    given a quiet window while the first refresh's response is held, outside the grace window."""
    return [
        a.connect(),
        a.call_tool("echo", {"text": "login"}),
        a.restart(),  # the logged-in process goes away; its tokens stay in the shared store
        a.arm_gate(name="calls", endpoint="mcp", match={"method": "initialize"}, release_at=n, max_holds=n,
                   timeout_s=10),
        a.revoke_tokens(),
        a.replicas(n, steps=[a.call_tool("echo", {"text": "after"})], during=[
            a.wait_journal("token_rejected", n),  # every replica sent its stale token and got 401
            a.wait_gate("refresh", 1),  # the first refresh is at the token endpoint
            a.release_gate("refresh", 1),
            a.wait_gate("commit", 1),  # the AS has rotated; the response is held (a slow token endpoint)
            a.advance_clock(grace_s + 1),  # from now on a reuse is outside the grace window
            a.wait_gate("refresh", 1, timeout_s=quiet_s, optional=True),  # a buggy replica redeems it again
            a.open_gate("refresh"),
            a.release_gate("commit"),
        ]),
    ]


REFRESH_GATES = [
    {"name": "refresh", "endpoint": "token", "match": REFRESH, "max_holds": N},
    {"name": "commit", "endpoint": "token", "match": REFRESH, "phase": "response", "max_holds": 1},
]


def _scenario(preset: str, store: str = "shared", suffix: str = "") -> Scenario:
    grace = float(PRESETS[preset].get("grace_s", 0.0))
    return Scenario(
        id=f"replicas/concurrent_refresh_{preset}{suffix}",
        title=f"{N} replicas on one {store} store refresh at once under {preset} rotation",
        preset=preset,
        knobs={"resource_policy": "ignore"} if preset == "entra" else {},
        gates=REFRESH_GATES,
        actions=refresh_race(N, grace),
        checks=[
            single_redemption_per_rt(id="C09.single-redemption", requirements=["C09", "RFC6749-6", "RFC9700-4.14"]),
            checks.no_event("family_revoked", id="C09.no-family-revoked", requirements=["C09", "RFC6819-5.2.2.3"],
                            why="two replicas redeemed the same refresh token and the AS revoked every token "
                                "of the family"),
            no_authorize_after_harness("revoke_tokens", id="C09.no-interactive", requirements=["C09"],
                                       why="a refresh race left a replica without usable credentials"),
            checks.outcome_ok("C09.replicas-succeed", ["C09"]),
        ],
        needs={"replicas", "refresh", "clock"},
        store=store,  # type: ignore[arg-type]
        markers=("race",),
        timeout_s=60,
    )


test_concurrent_refresh_auth0 = _scenario("auth0").as_test()
test_concurrent_refresh_okta = _scenario("okta").as_test()
test_concurrent_refresh_entra = _scenario("entra").as_test()
test_concurrent_refresh_gotrue = _scenario("gotrue").as_test()
