"""STATE-1 and ISS-1: the callback is checked before anything is exchanged.

* ``security/state_forged``: the browser first delivers the real code with a forged ``state``, then the
  real callback. The forged one must be rejected (no exchange), the real one exchanged once (STATE-1).
* ``security/iss_wrong``: the redirect carries an ``iss`` that is not the AS's issuer: reject, no ``/token``.
* ``security/iss_missing``: the AS advertises ``authorization_response_iss_parameter_supported`` but the
  redirect has no ``iss``: reject, no ``/token``.
* ``security/iss_wrong_on_error``: an ``error=`` redirect with a wrong ``iss``: the client must report the
  issuer mismatch, not trust the error (RFC 9207 applies to error responses too).
* ``security/iss_not_advertised``: no ``iss`` and no support advertised: accepted (positive control).
ISS-1 starts in 2026-07-28; the checks are not applicable before.
"""

from typing import Any

from harness import Scenario, checks
from harness import actions as a
from harness.checks import check
from harness.journal_query import field
from harness.model import FAIL, PASS, CheckContext, Verdict

CALL = [a.connect(), a.call_tool("echo", {"text": "hi"})]
ISS = ["MCP-2026-07-28:ISS-1", "RFC9207-2.4"]


def _has_state(e: Any) -> str | None:
    return None if field(e, "state") else "no state parameter"


@check("STATE-1.one-exchange-per-code", ["MCP-2025-06-18:STATE-1", "RFC6749-10.12"])
def one_exchange_per_code(ctx: CheckContext) -> Verdict:
    """The code was exchanged exactly once (the forged-state delivery was not exchanged)."""
    codes = list(ctx.q.of("code_issued"))
    exchanges = list(ctx.q.code_requests())
    if not codes:
        return FAIL("the AS never issued a code")
    by_code: dict[Any, list[Any]] = {}
    for e in exchanges:
        by_code.setdefault(field(e, "code"), []).append(e)
    for c in codes:
        got = by_code.get(field(c, "code"), [])
        if len(got) != 1:
            return FAIL(f"code {field(c, 'code')} was exchanged {len(got)} times; a callback with a forged state "
                        f"must be rejected and the real one exchanged once", [c, *got], [e.seq for e in got])
    return PASS(f"{len(codes)} code(s), each exchanged once", exchanges)


def _no_code_exchange(id: str) -> Any:
    return checks.no_request("token", id=id, requirements=ISS, grant_type="authorization_code",
                             why="the redirect's iss does not prove it comes from the expected AS (RFC 9207)")


test_state_forged = Scenario(
    id="security/state_forged",
    title="A callback with a forged state is rejected; the real one is exchanged once",
    user_agent={"forge_state": True},
    actions=CALL,
    checks=[
        checks.every_request("authorize", _has_state, id="STATE-1.state-sent",
                             requirements=["MCP-2025-06-18:STATE-1"], what="/authorize request"),
        one_exchange_per_code,
        checks.no_event("code_replayed", id="STATE-1.no-code-replay", requirements=["MCP-2025-06-18:STATE-1"]),
        checks.outcome_ok("STATE-1.connects", ["MCP-2025-06-18:STATE-1"]),
    ],
    needs={"callbacks"},
).as_test()

test_iss_wrong = Scenario(
    id="security/iss_wrong",
    title="The redirect's iss names another issuer: reject the callback",
    knobs={"iss_in_callback": "wrong"},
    actions=CALL,
    checks=[_no_code_exchange("ISS-1.wrong-iss-rejected")],
).as_test()

test_iss_missing = Scenario(
    id="security/iss_missing",
    title="The AS advertises iss support but the redirect has none: reject the callback",
    knobs={"iss_in_callback": "omitted", "advertise_iss_support": True},
    actions=CALL,
    checks=[_no_code_exchange("ISS-1.missing-iss-rejected")],
).as_test()


@check("ISS-1.error-response-iss-checked", ISS)
def error_not_trusted(ctx: CheckContext) -> Verdict:
    """An error redirect with a wrong iss is reported as an issuer mismatch, not as the AS's error."""
    errs = [e for e in ctx.outcome.errors if e]
    if not ctx.q.of("fault_injected", action="callback_error"):
        return FAIL("the client never reached the authorization endpoint, so the error redirect was not delivered")
    if any("iss" in e for e in errs):
        return PASS(f"the client rejected the error redirect for its issuer ({errs[0]})")
    return FAIL(f"the client reported {errs[0] if errs else 'success'} from an error redirect whose iss is not "
                f"its AS; check iss on error responses too (RFC 9207)")


test_iss_wrong_on_error = Scenario(
    id="security/iss_wrong_on_error",
    title="An error redirect with a wrong iss is rejected for its issuer",
    knobs={"iss_in_callback": "wrong"},
    faults=[{"endpoint": "authorize", "action": "callback_error", "error": "temporarily_unavailable"}],
    actions=CALL,
    checks=[error_not_trusted],
).as_test()

test_iss_not_advertised = Scenario(
    id="security/iss_not_advertised",
    title="No iss and no iss support advertised: the callback is accepted",
    knobs={"iss_in_callback": "omitted", "advertise_iss_support": False},
    actions=CALL,
    checks=[checks.outcome_ok("ISS-1.accepted-without-advertised-support", ISS)],
).as_test()
