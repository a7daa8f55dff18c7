"""Checks for ``error=`` callbacks (C06, RFC 6749 §4.1.2.1), shared with flows/deny_in_one_tab.

An error callback is found in the journal as the ``/authorize`` response that redirected with ``error=``
(a ``callback_error`` fault or a denied consent). A window ends at the harness action ``until`` (when the
scenario lets the user try again later) or at the end of the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.model import FAIL, PASS, SKIP, Check, CheckContext, Verdict


def error_redirects(ctx: CheckContext, code: str | None = None) -> list[Any]:
    """``/authorize`` responses that sent the browser back with ``error=`` (``code``, if given)."""
    out = []
    for e in ctx.q.responses("authorize"):
        redirect = (e.data or {}).get("redirect")
        if isinstance(redirect, dict) and "error" in redirect and (code is None or redirect["error"] == code):
            out.append(e)
    return out


def _window(ctx: CheckContext, first: Any, until: str | None) -> Any:
    q = ctx.q.after(first)
    if until is not None:
        mark = ctx.q.after(first).harness(until).first()
        if mark is not None:
            q = q.before(mark)
    return q


def fails_with_as_error(code: str, *, id: str, requirements: Sequence[str]) -> Check:
    """The steps waiting for the flow fail at once with the AS's error (not a timeout, not success)."""
    want = f"authorization_failed:{code}"

    def fn(ctx: CheckContext) -> Verdict:
        errs = error_redirects(ctx, code)
        if not errs:
            return SKIP(f"the AS never redirected with error={code}, so there was nothing to fail on")
        failed = [s for s in ctx.outcome.steps if not s.ok]
        if not failed:
            return FAIL(f"every step succeeded although the only authorization flow ended with error={code}: "
                        f"the client must surface the AS's error, not carry on", errs)
        wrong = [s for s in failed if s.error != want]
        if wrong:
            s = wrong[0]
            return FAIL(f"step {s.action.get('do')} ({s.actor}) failed with {s.error}, not {want}: after an "
                        f"error={code} callback the pending flow must fail at once with the AS's error "
                        f"({s.detail[:160]})", errs)
        return PASS(f"{len(failed)} step(s) failed at once with {want}", errs)

    return Check(id, tuple(requirements), fn, title=f"error={code} fails the flow with the AS's error")


def no_token_after_error(*, id: str, requirements: Sequence[str], until: str | None = None) -> Check:
    """After an ``error=`` redirect, no authorization-code exchange (there is no code to redeem)."""
    def fn(ctx: CheckContext) -> Verdict:
        errs = error_redirects(ctx)
        if not errs:
            return SKIP("the AS never redirected with error=, so there was nothing to judge")
        tokens = list(_window(ctx, errs[0], until).requests("token", grant_type="authorization_code"))
        if tokens:
            return FAIL("the client sent a code exchange after the AS answered its authorization request with "
                        "error=", [errs[0], *tokens], [t.seq for t in tokens])
        return PASS("no code exchange after the error= callback", errs[:1])

    return Check(id, tuple(requirements), fn, title="no /token after an error= callback")


def no_reprompt_loop(*, id: str, requirements: Sequence[str], until: str | None = None,
                     max_authorize: int = 0) -> Check:
    """After an ``error=`` redirect, at most ``max_authorize`` new ``/authorize`` and no ``/register``."""
    def fn(ctx: CheckContext) -> Verdict:
        errs = error_redirects(ctx)
        if not errs:
            return SKIP("the AS never redirected with error=, so there was nothing to judge")
        window = _window(ctx, errs[0], until)
        authz = list(window.requests("authorize"))
        regs = list(window.requests("register"))
        if len(authz) > max_authorize:
            return FAIL(f"{len(authz)} new /authorize request(s) after the error= callback (a re-prompt loop; at "
                        f"most {max_authorize})", [errs[0], *authz], [e.seq for e in authz])
        if regs:
            return FAIL(f"{len(regs)} /register request(s) after the error= callback: the AS's answer is not a "
                        f"reason to register again", [errs[0], *regs], [e.seq for e in regs])
        return PASS(f"{len(authz)} /authorize and no /register after the error= callback", errs[:1])

    return Check(id, tuple(requirements), fn, title="no re-prompt loop after an error= callback")
