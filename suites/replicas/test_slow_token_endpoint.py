"""C11: a token endpoint slower than the client's lock lease must not let a second replica in.

Trigger: Auth0-like rotation with reuse detection (family revoked on reuse, no grace). The main client
logs in; every access token is revoked; two replica processes get their 401 together. The first refresh
is redeemed and its response held for a quiet window of 1 s of REAL time (the lease is real time: a
slow token endpoint). A buggy client (OpenHikmah #595, neon #233, cloudflare/mcp #136) holds the refresh
lock with a short, unrenewed lease: it expires mid-request, the second replica takes the lock, re-reads
the old refresh token and redeems it again, and the AS revokes the family. A correct client's lease
outlives the HTTP timeout and is renewed while held: one redemption, no revocation, no interactive login.
"""

from __future__ import annotations

from harness import Scenario, checks
from suites.replicas._checks import no_authorize_after_harness, single_redemption_per_rt
from suites.replicas.test_concurrent_refresh import REFRESH_GATES, N, refresh_race

test_slow_token_endpoint = Scenario(
    id="replicas/slow_token_endpoint",
    title="The refresh response takes longer than a short lock lease; the other replica must keep waiting",
    preset="auth0",
    gates=REFRESH_GATES,
    actions=refresh_race(N, 0.0, quiet_s=1.0),
    checks=[
        single_redemption_per_rt(id="C11.single-redemption", requirements=["C11", "C09", "RFC6749-6"]),
        checks.no_event("family_revoked", id="C11.no-family-revoked", requirements=["C11", "RFC6819-5.2.2.3"],
                        why="the refresh lock expired during a slow refresh and a second replica redeemed the "
                            "same refresh token"),
        no_authorize_after_harness("revoke_tokens", id="C11.no-interactive", requirements=["C11"],
                                   why="a lock lease shorter than the refresh left a replica without credentials"),
        checks.outcome_ok("C11.replicas-succeed", ["C11"]),
    ],
    needs={"replicas", "refresh"},
    store="shared",
    markers=("race",),
    timeout_s=60,
).as_test()
