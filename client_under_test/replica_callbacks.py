"""Callbacks routed to ANOTHER replica: the load balancer in front of N client processes (C05).

In a deployment with several replicas, the browser's redirect to ``/callback`` lands on whichever replica
the load balancer picks, usually not the one that started the flow. The conformance CLI reproduces that
when the context's ``user_agent`` says ``{"callback_route": "other_replica"}``:

- the replica's browser (:class:`InboxTarget`, the user agent's ``deliver_to``) does not call its own
  client's ``handle_callback``: it drops the callback parameters into a shared inbox directory
  (``state_dir/callback-inbox``) and waits for the answer of the replica that took them;
- every replica runs :func:`serve_inbox`: it takes callbacks written by OTHER replicas (an atomic rename,
  so exactly one replica gets each) and delivers them to its own client, as the ``/callback`` route of
  that replica would, then writes the result back.

A client that keeps flow state in the shared store completes the flow on the receiving replica; one that
keeps it in process memory rejects the callback as an unknown state. The browser then shows that error
page, and the initiating replica's flow fails at once (rather than waiting out its flow timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLL_S = 0.01
ROUTE_KEY = "callback_route"


def inbox_dir(state_dir: str | os.PathLike[str]) -> Path:
    path = Path(state_dir) / "callback-inbox"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


@dataclass
class Delivered:
    """What the receiving replica did with a callback (mirrors ``CallbackResult``)."""

    accepted: bool
    reason: str
    replica: str | None = None


class InboxTarget:
    """The user agent's ``deliver_to``: hand the callback to another replica through the inbox."""

    def __init__(self, inbox: Path, actor: str, *, timeout_s: float = 10.0) -> None:
        self.inbox = inbox
        self.replica = f"other-than-{actor}"
        self.actor = actor
        self.timeout_s = timeout_s

    async def handle_callback(self, params: dict[str, Any]) -> Delivered:
        from client_under_test.reference.errors import AuthorizationFailed

        cid = uuid.uuid4().hex
        _write_atomic(self.inbox / f"{cid}.from-{self.actor}.json", dict(params))
        reply = self.inbox / f"{cid}.reply.json"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        while not reply.exists():
            if loop.time() > deadline:
                raise AuthorizationFailed(f"no replica took the callback within {self.timeout_s}s",
                                          error="callback_not_delivered")
            await asyncio.sleep(POLL_S)
        doc = json.loads(reply.read_text())
        result = Delivered(bool(doc.get("accepted")), str(doc.get("reason")), doc.get("replica"))
        if not result.accepted:
            # The receiving replica answered the browser with an error page; the flow cannot complete.
            raise AuthorizationFailed(f"replica {result.replica} rejected the callback: {result.reason}",
                                      error="callback_rejected", description=result.reason)
        return result


async def serve_inbox(client: Any, inbox: Path, actor: str) -> None:
    """Deliver the callbacks other replicas' browsers dropped into the inbox to ``client`` (until cancelled)."""
    from client_under_test.reference.core import ACTOR

    ACTOR.set(actor)
    while True:
        await deliver_pending(client, inbox, actor)
        await asyncio.sleep(POLL_S)


async def deliver_pending(client: Any, inbox: Path, actor: str) -> None:
    """One pass over the inbox: take and deliver every callback another replica's browser dropped there."""
    for path in sorted(inbox.glob("*.from-*.json")):
        cid, _, sender = path.name[: -len(".json")].partition(".from-")
        if sender == actor:
            continue
        claimed = path.with_name(f"{cid}.claimed-by-{actor}")
        try:
            os.rename(path, claimed)  # atomic: exactly one replica takes each callback
        except OSError:
            continue
        params = json.loads(claimed.read_text())
        try:
            result = await client.handle_callback(params)
            doc = {"accepted": bool(getattr(result, "accepted", False)),
                   "reason": str(getattr(result, "reason", "")), "replica": actor}
        except Exception as exc:  # the callback route answered 500
            doc = {"accepted": False, "reason": f"{type(exc).__name__}: {exc}", "replica": actor}
        _write_atomic(inbox / f"{cid}.reply.json", doc)


@contextlib.asynccontextmanager
async def serving(client_getter: Any, inbox: Path, actor: str) -> Any:
    """Run :func:`serve_inbox` for the duration of the block (``client_getter()`` is the current client)."""

    class _Current:
        async def handle_callback(self, params: dict[str, Any]) -> Any:
            return await client_getter().handle_callback(params)

    task = asyncio.create_task(serve_inbox(_Current(), inbox, actor))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):  # a replica going away still answers what is already queued
            await asyncio.wait_for(deliver_pending(_Current(), inbox, actor), 5.0)
