"""The headless browser: opens an authorization URL without following the redirect and delivers the
callback parameters (``code``, ``state``, ``iss`` | ``error``...) to a client's ``handle_callback``.

Scenario behaviours (all recorded in :attr:`HeadlessUserAgent.events`):

- ``delay``: an ``asyncio.Event`` or an ``async (flow) -> None`` callable the test controls; the user
  agent waits on it before opening the URL (never a sleep);
- ``deny``: the user clicks "deny": the callback carries ``error=access_denied`` instead of the code;
- ``deliver_twice``: the same callback is delivered twice (a browser retry);
- ``deliver_twice_concurrently``: the callback and its duplicate are delivered at the same time (a browser
  retry, or two tabs, while the first delivery is still being handled);
- ``replay_stale``: before delivering, the previous flow's callback is delivered again (a stale state);
- ``forge_state``: then a callback with a forged state (and a code the AS never issued) is delivered;
- ``abandon``: the first N authorizations are abandoned: the browser lands on the redirect (the AS has
  issued a code) but the tab is closed before the callback reaches the client. ``replay_stale`` can
  deliver that callback later (the stale state of an abandoned flow, C03);
- ``hold_until_flows``: no authorization URL is opened until the client has started or joined this many
  interactive flows (its ``flow_started`` / ``flow_joined`` events, over the client's life): the first
  URL is opened only once the other tabs have started theirs (C01, C02, C07). Bounded by ``timeout_s``;
- ``deliver_to``: another client instance (a replica sharing the store), or ``(flow) -> client``;
- several concurrent flows (tabs) are just concurrent ``authorize`` calls.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from client_under_test.reference.errors import AuthorizationFailed, TransientError

Delay = asyncio.Event | Callable[[Any], Awaitable[None]] | None
#: The client events that mean "this tab started or joined an interactive flow" (``hold_until_flows``).
FLOW_EVENTS = frozenset({"flow_started", "flow_joined"})
HOLD_POLL_S = 0.002


class HeadlessUserAgent:
    def __init__(self, *, actor: str = "browser", delay: Delay = None, deny: bool = False,
                 deny_error: str = "access_denied", deliver_twice: bool = False, replay_stale: bool = False,
                 forge_state: bool = False, deliver_to: Any = None, timeout_s: float = 10.0,
                 http_transport: httpx.AsyncBaseTransport | None = None, deliver_twice_concurrently: bool = False,
                 abandon: int = 0, hold_until_flows: int = 0) -> None:
        self.actor = actor
        self.delay = delay
        self.deny = deny
        self.deny_error = deny_error
        self.deliver_twice = deliver_twice
        self.replay_stale = replay_stale
        self.forge_state = forge_state
        self.deliver_to = deliver_to
        self.timeout_s = timeout_s
        self.http_transport = http_transport
        self.deliver_twice_concurrently = deliver_twice_concurrently
        self.abandon = int(abandon)
        self.hold_until_flows = int(hold_until_flows)
        self._abandoned = 0
        self.events: list[dict[str, Any]] = []
        self.delivered: list[dict[str, str]] = []  # every callback delivered, in order
        self._previous: dict[str, str] | None = None

    def _record(self, kind: str, **data: Any) -> None:
        self.events.append({"kind": kind, **data})

    async def _wait(self, flow: Any) -> None:
        if self.delay is None:
            return
        self._record("delay", state=_short(getattr(flow, "state", None)))
        if isinstance(self.delay, asyncio.Event):
            await self.delay.wait()
        else:
            result = self.delay(flow)
            if inspect.isawaitable(result):
                await result

    async def _hold(self, client: Any, flow: Any) -> None:
        """``hold_until_flows``: wait (bounded) until the client has started or joined that many flows."""
        want = self.hold_until_flows
        events = getattr(client, "events", None)
        if want <= 1 or not isinstance(events, list):
            return

        def started() -> int:
            return sum(1 for e in list(events) if isinstance(e, dict) and e.get("kind") in FLOW_EVENTS)

        if started() >= want:
            return
        self._record("hold", state=_short(getattr(flow, "state", None)), until_flows=want)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        while started() < want:  # a condition on the client's state, polled; never a timing assumption
            if loop.time() >= deadline:
                self._record("hold_timeout", state=_short(getattr(flow, "state", None)), flows=started())
                return
            await asyncio.sleep(HOLD_POLL_S)
        self._record("hold_released", state=_short(getattr(flow, "state", None)), flows=started())

    def _target(self, client: Any, flow: Any) -> Any:
        if self.deliver_to is None:
            return client
        if callable(self.deliver_to) and not hasattr(self.deliver_to, "handle_callback"):
            return self.deliver_to(flow)
        return self.deliver_to

    async def open(self, url: str) -> dict[str, str]:
        """GET the authorization URL without following redirects; the callback params from Location."""
        async with httpx.AsyncClient(transport=self.http_transport, follow_redirects=False,
                                     timeout=self.timeout_s) as http:
            try:
                resp = await http.get(url, headers={"x-harness-actor": self.actor})
            except httpx.HTTPError as exc:
                self._record("authorize_failed", error=type(exc).__name__)
                raise TransientError(f"the authorization endpoint is unreachable: {exc}") from exc
        location = resp.headers.get("location")
        if resp.status_code not in (301, 302, 303, 307, 308) or not location:
            try:
                doc = resp.json()
            except ValueError:
                doc = {}
            error = doc.get("error") if isinstance(doc, dict) else None
            self._record("authorize_page", status=resp.status_code, error=error)
            raise AuthorizationFailed(f"the authorization endpoint answered {resp.status_code} without a redirect",
                                      error=error or "authorize_page", status=resp.status_code,
                                      description=doc.get("error_description") if isinstance(doc, dict) else None)
        params = dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
        self._record("redirect", state=_short(params.get("state")), has_code="code" in params,
                     error=params.get("error"), iss=params.get("iss"))
        return params

    async def deliver(self, target: Any, params: dict[str, str], label: str) -> Any:
        self.delivered.append(dict(params))
        result = await target.handle_callback(dict(params))
        self._record("deliver", label=label, state=_short(params.get("state")),
                     accepted=getattr(result, "accepted", None), reason=getattr(result, "reason", None),
                     target=getattr(target, "replica", None) or type(target).__name__)
        return result

    async def authorize(self, url: str, *, client: Any, flow: Any = None) -> None:
        """What a person does in a browser tab: open the URL, consent (or deny), land on the redirect."""
        self._record("open", state=_short(getattr(flow, "state", None)))
        await self._wait(flow)
        await self._hold(client, flow)
        params = await self.open(url)
        if self.deny and "code" in params:
            params = {k: v for k, v in params.items() if k not in ("code",)}
            params["error"] = self.deny_error
            params.setdefault("error_description", "the user denied the request")
        if self._abandoned < self.abandon:
            self._abandoned += 1
            self._record("abandon", state=_short(params.get("state")))
            self._previous = params
            return
        target = self._target(client, flow)
        if self.replay_stale and self._previous is not None:
            await self.deliver(target, self._previous, "stale")
        if self.forge_state:
            forged = {**params, "state": "forged-" + (params.get("state") or "x")[:8]}
            if "code" in params:  # an attacker's callback: a state and a code this flow never produced
                forged["code"] = "forged-" + params["code"][:8]
            await self.deliver(target, forged, "forged")
        if self.deliver_twice_concurrently:
            await asyncio.gather(self.deliver(target, params, "callback"), self.deliver(target, params, "duplicate"))
        else:
            await self.deliver(target, params, "callback")
            if self.deliver_twice:
                await self.deliver(target, params, "duplicate")
        self._previous = params


def _short(state: str | None) -> str | None:
    return None if state is None else state[:8]
