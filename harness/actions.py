"""Constructors for action dicts, so scenario scripts read as sentences. Each returns a plain dict.

Client actions: connect, call_tool, list_tools, burst, open_tabs, replicas, restart, disconnect.
Harness actions: advance_clock, revoke_tokens, expire_tokens, set_knobs, arm_fault, arm_gate, wait_gate,
release_gate, open_gate, wait_journal. A client action may carry ``during=[...]`` harness actions that a
driver thread runs while the step is in flight (see harness/script.py).
"""

from __future__ import annotations

from typing import Any

from harness.model import Action


def _with_during(action: Action, during: list[Action] | None) -> Action:
    if during:
        action["during"] = list(during)
    return action


def connect(*, during: list[Action] | None = None) -> Action:
    return _with_during({"do": "connect"}, during)


def call_tool(name: str = "echo", arguments: dict[str, Any] | None = None, *,
              during: list[Action] | None = None) -> Action:
    return _with_during({"do": "call_tool", "name": name, "arguments": arguments if arguments is not None
                         else {"text": "hi"}}, during)


def list_tools(*, during: list[Action] | None = None) -> Action:
    return _with_during({"do": "list_tools"}, during)


def burst(n: int, name: str = "echo", arguments: dict[str, Any] | None = None, *,
          during: list[Action] | None = None) -> Action:
    """n concurrent tool calls on the current session."""
    a: Action = {"do": "burst", "n": n, "name": name}
    if arguments is not None:
        a["arguments"] = arguments
    return _with_during(a, during)


def open_tabs(n: int, steps: list[Action] | None = None, *, during: list[Action] | None = None) -> Action:
    """n concurrent sessions (tabs) of one client, each running ``steps`` (default: connect + echo)."""
    a: Action = {"do": "open_tabs", "n": n}
    if steps is not None:
        a["steps"] = steps
    return _with_during(a, during)


def replicas(n: int, steps: list[Action] | None = None, *, during: list[Action] | None = None) -> Action:
    """n client processes on one shared store, each running ``steps`` (default: connect + echo)."""
    a: Action = {"do": "replicas", "n": n}
    if steps is not None:
        a["steps"] = steps
    return _with_during(a, during)


def restart(context: dict[str, Any] | None = None) -> Action:
    """Drop the client (memory, sessions) and build a new one on the same store.

    ``context``: keys of the scenario's client context that change from now on (e.g. a new loopback
    ``redirect_uri``, C22); in-process adapters apply them to the new client.
    """
    return {"do": "restart", "context": dict(context)} if context else {"do": "restart"}


def disconnect() -> Action:
    return {"do": "disconnect"}


def advance_clock(seconds: float) -> Action:
    return {"do": "advance_clock", "seconds": seconds}


def revoke_tokens() -> Action:
    """Revoke every access token now (the client's local expiry still says valid)."""
    return {"do": "revoke_tokens"}


def expire_tokens() -> Action:
    return {"do": "expire_tokens"}


def set_knobs(**knobs: Any) -> Action:
    return {"do": "set_knobs", "knobs": knobs}


def arm_fault(**fault: Any) -> Action:
    return {"do": "arm_fault", "fault": fault}


def clear_faults() -> Action:
    """Disarm every armed fault (e.g. the token endpoint's outage is over)."""
    return {"do": "clear_faults"}


def arm_gate(**gate: Any) -> Action:
    return {"do": "arm_gate", "gate": gate}


def _wait_flags(a: Action, timeout_s: float | None, precondition: bool, optional: bool) -> Action:
    if timeout_s is not None:
        a["timeout_s"] = timeout_s
    if precondition:
        a["precondition"] = True
    if optional:
        a["optional"] = True
    return a


def wait_gate(gate: str, waiting: int, *, timeout_s: float | None = None, precondition: bool = False,
              optional: bool = False) -> Action:
    """Block the driver until ``waiting`` requests are parked at ``gate``.

    ``precondition=True``: if it never happens, the scenario could not be set up for this client (every
    check SKIPs with the reason) rather than the client being judged. ``optional=True``: a quiet window;
    running out of ``timeout_s`` is fine (what a correct client never does, a buggy one does at once).
    """
    return _wait_flags({"do": "wait_gate", "gate": gate, "waiting": waiting}, timeout_s, precondition, optional)


def break_locks() -> Action:
    """Delete every lock in the client's shared store: a lost lease (a stalled owner) or a store failover.
    Lets two refreshes race past a correct lock, so the compare-and-swap clear is what is tested (C10)."""
    return {"do": "break_locks"}


def release_gate(gate: str, count: int | None = None) -> Action:
    a: Action = {"do": "release_gate", "gate": gate}
    if count is not None:
        a["count"] = count
    return a


def open_gate(gate: str) -> Action:
    return {"do": "open_gate", "gate": gate}


def wait_journal(kind: str | list[str], count: int, *, since: str | None = None, timeout_s: float | None = None,
                 precondition: bool = False, optional: bool = False, **match: Any) -> Action:
    """Block the driver until ``count`` entries of ``kind`` were journaled since its previous action
    (``since="start"``: since the scenario began), optionally matching fields (top-level entry fields or
    data fields, e.g. ``endpoint="token", grant_type="refresh_token"``). Flags as for wait_gate."""
    a: Action = {"do": "wait_journal", "kind": kind, "count": count}
    if match:
        a["match"] = match
    if since:
        a["since"] = since
    return _wait_flags(a, timeout_s, precondition, optional)
