"""The half of an SDK adapter that does not depend on the SDK: run the driver process for a scenario.

One driver process runs the whole action script with one SDK session, so a between-steps harness action
(revoke, arm a fault, expire) hits the session the way it would in a long-running application: this is
what a mid-session 401 (C14) or a burst behind one expired token (C08) needs. Harness actions and "during"
actions come back over the control channel (see ``process.py``) and are performed here with
``env.apply`` / ``env.during``, exactly as for in-process clients. A ``restart`` re-creates the SDK's
objects inside the driver from what ``state_dir`` holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from client_under_test.adapters.base import BaseAdapter
from client_under_test.sdk_drivers.process import DriverRun, run_driver

ACTOR = "main"
LOG_LIMIT = 6000


def error_class(kind: str | None) -> str:
    """A driver's error kind -> the harness's classified error (harness.model.ERROR_CLASSES)."""
    return {
        "unauthorized": "authorization_failed:unauthorized",
        "invalid_grant": "authorization_failed:invalid_grant",
        "auth_flow": "authorization_failed:unknown",
        "timeout": "timeout",
        "tool_error": "tool_error",
        "unsupported": "driver:unsupported",
    }.get(kind or "", "crash")


class ProcessSdkAdapter(BaseAdapter):
    """Runs ``command + [server_url]`` under the conformance contract with the control channel."""

    #: honest declarations, per SDK (see the subclasses)
    capabilities: frozenset[str] = frozenset()

    def command(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def cwd(self) -> str | None:
        return None

    async def run(self, env: Any, actions: list[dict[str, Any]]) -> Any:
        from harness.model import Outcome

        if self.unavailable:
            # The plugin turns `unavailable` into SKIPs before running; a direct call still must not pass.
            return Outcome(ok=False, errors=[f"driver:unavailable: {self.unavailable}"])
        ctx = env.context(actions, actor=ACTOR)
        # Keep the marker that a step has "during" actions: the driver asks for them around that step.
        ctx["actions"] = [{**{k: v for k, v in a.items() if k != "during"}, "during": len(a["during"])}
                          if a.get("during") else ctx_a for a, ctx_a in zip(actions, ctx["actions"], strict=True)]
        self._configure_preregistered(env, ctx)
        Path(ctx["state_dir"]).mkdir(parents=True, exist_ok=True)
        running: dict[int, Any] = {}
        harness_errors: list[str] = []

        async def on_control(msg: dict[str, Any]) -> dict[str, Any]:
            i = int(msg["await"])
            if "action" in msg:
                action = actions[i] if 0 <= i < len(actions) else msg["action"]
                try:
                    await anyio.to_thread.run_sync(env.apply, action)
                except Exception as exc:
                    harness_errors.append(f"driver:{action.get('do')}: {exc}")
                    raise
                return {}
            if msg.get("during") == "start":
                drv = env.during(list(actions[i].get("during") or []))
                drv.__enter__()
                running[i] = drv
                return {}
            if msg.get("during") == "end":
                drv = running.pop(i, None)
                if drv is not None:
                    await anyio.to_thread.run_sync(drv.__exit__, None, None, None)
                return {}
            raise ValueError(f"unknown control message {msg}")

        timeout = float(getattr(env.scenario, "timeout_s", 60.0) or 60.0)
        try:
            run = await run_driver(self.command(), env.server_url, ctx, scenario=env.scenario_id,
                                   on_control=on_control, timeout_s=timeout, cwd=self.cwd())
        finally:
            for drv in running.values():
                await anyio.to_thread.run_sync(drv.__exit__, None, None, None)
        return self.to_outcome(run, actions, harness_errors)

    @staticmethod
    def _configure_preregistered(env: Any, ctx: dict[str, Any]) -> None:
        """A pre-registered client is configured with its whole registration, as an application would be:
        copy its auth method and redirect URI from the mock's knobs when the scenario names only the id."""
        cid = ctx.get("client_id")
        knobs = getattr(env.server, "knobs", None)
        if not cid or knobs is None:
            return
        for pre in getattr(knobs, "pre_registered", None) or []:
            if pre.client_id == cid:
                ctx.setdefault("token_endpoint_auth_method", pre.token_endpoint_auth_method)
                if pre.client_secret and "client_secret" not in ctx:
                    ctx["client_secret"] = pre.client_secret
                if pre.redirect_uris and "redirect_uri" not in ctx:
                    ctx["redirect_uri"] = pre.redirect_uris[0]
                return

    def to_outcome(self, run: DriverRun, actions: list[dict[str, Any]], harness_errors: list[str]) -> Any:
        """The driver's outcome line -> ``harness.model.Outcome`` (one StepResult per client step)."""
        from harness.model import Outcome, StepResult, is_client_action

        log = self._log(run)
        if run.failure:
            err = "hang" if run.timed_out else f"exit:{run.returncode}"
            return Outcome(ok=False, errors=[err, *harness_errors], log=log)
        assert run.outcome is not None
        out = Outcome(ok=True, log=log)
        for rec in run.outcome.get("steps") or []:
            i = rec.get("i")
            action = actions[i] if isinstance(i, int) and 0 <= i < len(actions) else {"do": rec.get("do")}
            if not is_client_action(action):
                continue  # harness actions are the harness's; their failures are in harness_errors
            detail = rec.get("error") or ""
            if rec.get("authorizations"):
                detail = (detail + "; " if detail else "") + f"{rec['authorizations']} interactive authorization(s)"
            if rec.get("do") == "burst" and rec.get("results"):
                detail = (detail + "; " if detail else "") + f"{rec.get('failed', 0)} of {rec.get('n')} calls failed"
            out.add(StepResult(action=dict(action), ok=bool(rec.get("ok")), actor=ACTOR,
                               error=None if rec.get("ok") else error_class(rec.get("kind")),
                               detail=detail, duration_s=float(rec.get("ms") or 0) / 1000))
        stepped = {rec.get("i") for rec in run.outcome.get("steps") or []}
        for e in run.outcome.get("errors") or []:
            if e.get("step") not in stepped:  # not tied to a step: the driver's own budget ran out
                out.ok = False
                out.errors.append(error_class(e.get("kind")))
        if harness_errors:
            out.ok = False
            out.errors.extend(harness_errors)
        return out

    def _log(self, run: DriverRun) -> str:
        parts = [f"$ {' '.join(self.command())} <server_url>  (exit {run.returncode}, {run.duration_s:.2f}s)"]
        if run.stdout_noise:
            parts.append("stdout (not JSON):\n" + "\n".join(run.stdout_noise[-20:]))
        if run.stderr.strip():
            parts.append("stderr:\n" + run.stderr.strip()[-LOG_LIMIT:])
        return "\n".join(parts)[-LOG_LIMIT:]
