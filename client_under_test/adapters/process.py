"""Process clients under the conformance client contract: ``<command> <server_url>`` with
``MCP_CONFORMANCE_SCENARIO`` and ``MCP_CONFORMANCE_CONTEXT`` (JSON) in the environment.

Used by the ``cmd:`` adapter and by the reference/mutant adapters for replicas. A script is cut into
segments (harness.script.split_segments); each segment is one process run (N for replicas) on the same
``state_dir``; the outcome is the JSON outcome file/line the process wrote, else its exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model import Action, Outcome, ScenarioEnv, StepResult
from harness.script import Segment, split_segments

LOG_LIMIT = 20_000
_run_ids = itertools.count(1)


@dataclass
class ProcessRun:
    actor: str
    returncode: int | None
    stdout: str
    stderr: str
    outcome: dict[str, Any] | None
    timed_out: bool
    duration_s: float


def parse_outcome_line(stdout: str) -> dict[str, Any] | None:
    """The last stdout line that is a JSON object with an "ok" key (optionally after a
    ``MCP_CONFORMANCE_OUTCOME`` prefix), or None."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("MCP_CONFORMANCE_OUTCOME"):
            line = line[len("MCP_CONFORMANCE_OUTCOME"):].strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "ok" in obj:
            return obj
    return None


async def run_process(command: Sequence[str], server_url: str, scenario_id: str, context: dict[str, Any], *,
                      timeout_s: float, env: dict[str, str] | None = None, cwd: str | None = None) -> ProcessRun:
    """Run one client process to completion (killing its process group on timeout)."""
    outcome_path = Path(context["state_dir"]) / "outcomes" / f"{next(_run_ids)}-{context.get('actor', 'main')}.json"
    outcome_path.parent.mkdir(parents=True, exist_ok=True)
    ctx = {**context, "outcome_json": str(outcome_path)}
    # The harness's interpreter comes first on PATH, so "python -m ..." means the venv the harness runs in.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    penv = {**os.environ, "PATH": path, **(env or {}), "MCP_CONFORMANCE_SCENARIO": scenario_id,
            "MCP_CONFORMANCE_CONTEXT": json.dumps(ctx, default=str), "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *command, server_url, env=penv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    timed_out = False
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except (TimeoutError, asyncio.CancelledError) as exc:
        timed_out = True
        _kill_group(proc)
        out, err = await _drain(proc)
        if isinstance(exc, asyncio.CancelledError):
            raise
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    outcome = None
    if outcome_path.exists():
        with contextlib.suppress(ValueError, OSError):
            outcome = json.loads(outcome_path.read_text())
    if not isinstance(outcome, dict):
        outcome = parse_outcome_line(stdout)
    return ProcessRun(ctx.get("actor", "main"), proc.returncode, stdout[-LOG_LIMIT:], stderr[-LOG_LIMIT:], outcome,
                      timed_out, time.monotonic() - t0)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """Kill the process we started and its children (it leads its own session, so its group is ours)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


async def _drain(proc: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    try:
        return await asyncio.wait_for(proc.communicate(), 5.0)
    except (TimeoutError, ValueError, RuntimeError):
        return b"", b""


def steps_from_run(run: ProcessRun, actions: list[Action]) -> list[StepResult]:
    """Turn one process run into step results (lenient about the outcome's shape)."""
    if run.timed_out:
        return [StepResult({"do": "process", "actions": [a["do"] for a in actions]}, False, run.actor, "timeout",
                           f"no exit after {run.duration_s:.1f}s; stderr: {_tail(run.stderr)}", run.duration_s)]
    if run.outcome is not None:
        out = outcome_from_dict(run.outcome, run.actor)
        if out.steps:
            if not out.ok and all(s.ok for s in out.steps):
                out.steps.append(StepResult({"do": "process"}, False, run.actor,
                                            (out.errors or ["crash"])[0], _tail(run.stderr), 0.0))
            return out.steps
        return [StepResult({"do": "process", "actions": [a["do"] for a in actions]}, out.ok, run.actor,
                           None if out.ok else (out.errors or [f"exit:{run.returncode}"])[0],
                           "" if out.ok else _tail(run.stderr), run.duration_s)]
    ok = run.returncode == 0
    return [StepResult({"do": "process", "actions": [a["do"] for a in actions]}, ok, run.actor,
                       None if ok else f"exit:{run.returncode}", "" if ok else _tail(run.stderr), run.duration_s)]


def outcome_from_dict(data: dict[str, Any], actor: str | None = None) -> Outcome:
    """Accept both the harness's outcome shape and the SDK drivers' (steps with "do", errors as dicts)."""
    steps = []
    for s in _flat_steps(data.get("steps") or []):
        action = s.get("action") if isinstance(s.get("action"), dict) else {"do": s.get("do", "?")}
        err = s.get("error")
        detail = s.get("detail") or s.get("message") or ""
        if isinstance(err, dict):  # {"class"?, "kind"?, "code", "error", "message"} (the reference CLI's shape)
            detail = detail or err.get("message") or ""
            err = err.get("class") or err.get("kind") or err.get("message")
        steps.append(StepResult(dict(action), bool(s.get("ok")), s.get("actor") or actor,
                                None if s.get("ok") else str(err or "crash"), str(detail),
                                float(s.get("duration_s") or (s.get("ms") or 0) / 1000)))
    errors = []
    for e in data.get("errors") or ([data["error"]] if data.get("error") else []):
        errors.append(str(e.get("kind") or e.get("message")) if isinstance(e, dict) else str(e))
    return Outcome(ok=bool(data.get("ok")), steps=steps, errors=errors)


def _flat_steps(steps: list[Any]) -> list[dict[str, Any]]:
    """A step with ``substeps`` (a burst's calls, the tabs' steps, each with its actor) stands for them, as
    the in-process adapters report them; a failure of the step itself not seen in them is kept."""
    out: list[dict[str, Any]] = []
    for s in steps:
        if not isinstance(s, dict):
            continue
        subs = [x for x in s.get("substeps") or [] if isinstance(x, dict)]
        if not subs:
            out.append(s)
            continue
        out.extend(subs)
        if not s.get("ok") and all(x.get("ok") for x in subs):
            out.append(s)
    return out


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class ProcessScript:
    """Runs a whole script as process segments for one command line."""

    def __init__(self, command: Sequence[str] | str, *, extra_context: dict[str, Any] | None = None,
                 cwd: str | None = None) -> None:
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.extra_context = extra_context or {}
        self.cwd = cwd

    async def run(self, env: ScenarioEnv, actions: list[Action]) -> Outcome:
        segments, tail = split_segments(actions)
        outcome = Outcome(ok=True)
        logs: list[str] = []
        loop = asyncio.get_running_loop()
        for i, seg in enumerate(segments):
            for a in seg.before:
                await loop.run_in_executor(None, env.apply, a)
            runs = await self._segment(env, seg, i)
            for run in runs:
                for step in steps_from_run(run, seg.actions):
                    outcome.add(step)
                if run.stderr.strip() or run.stdout.strip():
                    logs.append(f"--- segment {i} {run.actor} rc={run.returncode}\n{_tail(run.stderr, 30)}")
        for a in tail:
            await loop.run_in_executor(None, env.apply, a)
        outcome.log = "\n".join(logs)[-LOG_LIMIT:]
        return outcome

    async def _segment(self, env: ScenarioEnv, seg: Segment, index: int) -> list[ProcessRun]:
        n = seg.replicas or 1
        actors = [f"replica-{k + 1}" for k in range(n)] if seg.replicas else ["main"]
        timeout = env.step_timeout_s * max(1, len(seg.actions))
        # keep_going: run every action even after one fails, as in-process scripts do (replicas stop, as
        # the reference's replica processes do)
        extra = {**({} if seg.replicas else {"keep_going": True}), **seg.context, **self.extra_context}
        mirror = None
        if env.clock is not None and any(a.get("do") == "advance_clock" for a in seg.during):
            # the manual clock moves while the process runs: mirror it into a file the process re-reads
            mirror = ClockMirror(env.clock, Path(env.state_dir) / f"clock-{index}.json")
            extra["clock_file"] = str(mirror.path)
        async with mirror or contextlib.nullcontext(), env.during(seg.during):
            return list(await asyncio.gather(*[
                run_process(self.command, env.server_url, env.scenario_id,
                            env.context(seg.actions, actor=actor, segment=index, **extra),
                            timeout_s=timeout, cwd=self.cwd)
                for actor in actors]))


class ClockMirror:
    """Keeps ``path`` = ``{"clock_offset_s": <manual clock - real time>}`` up to date while a segment runs,
    so a process sees an ``advance_clock`` made during its step (the ``clock_file`` context extra)."""

    POLL_S = 0.02

    def __init__(self, clock: Any, path: Path) -> None:
        self.clock = clock
        self.path = path
        self._last: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.write()

    def write(self) -> None:
        now = float(self.clock.now())
        if now == self._last:
            return
        self._last = now
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"clock_offset_s": round(now - time.time(), 3)}))
        os.replace(tmp, self.path)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.POLL_S)
            self.write()

    async def __aenter__(self) -> ClockMirror:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def python_module_command(module: str) -> list[str]:
    return [sys.executable, "-m", module]
