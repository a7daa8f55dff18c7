"""Fixtures for the mock AS tests: one real uvicorn server per session, reset before every test.

``as_server`` runs the whole ``mock_as.server.MockServer`` (default layout: the AS at the root), so the
AS is tested behind the real middleware, on real loopback sockets.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mock_as.clock import ManualClock
from mock_as.context import ServerContext
from mock_as.knobs import Knobs
from mock_as.server import MockServer

REDIRECT = "http://127.0.0.1:9/cb"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Flow:
    """One finished /authorize round trip."""

    client_id: str
    verifier: str
    redirect_uri: str
    location: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.params["code"]


class ASHarness:
    """The running server plus the few protocol steps every test repeats."""

    def __init__(self, ctx: ServerContext, base: str) -> None:
        self.ctx = ctx
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=5.0, follow_redirects=False)

    @property
    def clock(self) -> ManualClock:
        assert isinstance(self.ctx.clock, ManualClock)
        return self.ctx.clock

    @property
    def journal(self) -> Any:
        return self.ctx.journal

    @property
    def resource(self) -> str:
        assert self.ctx.urls is not None
        return self.ctx.urls.resource

    def set_knobs(self, **changes: Any) -> None:
        self.ctx.knobs = self.ctx.knobs.patched(changes)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.journal.entries()]

    def register(self, **meta: Any) -> dict[str, Any]:
        body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                "client_name": "test", **meta}
        r = self.http.post("/register", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def authorize_raw(self, **params: Any) -> httpx.Response:
        return self.http.get("/authorize", params={k: v for k, v in params.items() if v is not None})

    def authorize(self, client_id: str, *, redirect_uri: str = REDIRECT, state: str = "s1",
                  resource: str | None = None, scope: str | None = None, **extra: Any) -> Flow:
        verifier, challenge = pkce_pair()
        r = self.authorize_raw(response_type="code", client_id=client_id, redirect_uri=redirect_uri, state=state,
                               code_challenge=challenge, code_challenge_method="S256", resource=resource,
                               scope=scope, **extra)
        assert r.status_code == 302, r.text
        loc = r.headers["location"]
        params = {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}
        return Flow(client_id, verifier, redirect_uri, loc, params)

    def token(self, **form: Any) -> httpx.Response:
        return self.http.post("/token", data={k: v for k, v in form.items() if v is not None})

    def exchange(self, flow: Flow, *, client_id: str | None = None, **extra: Any) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": flow.code, "redirect_uri": flow.redirect_uri,
                "client_id": client_id or flow.client_id, "code_verifier": flow.verifier, **extra}
        return self.token(**form)

    def refresh(self, client_id: str, refresh_token: str, **extra: Any) -> httpx.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token, client_id=client_id, **extra)

    def login(self, **register_meta: Any) -> tuple[str, dict[str, Any]]:
        """Register, authorize and exchange: (client_id, token response)."""
        client_id = self.register(**register_meta)["client_id"]
        r = self.exchange(self.authorize(client_id))
        assert r.status_code == 200, r.text
        return client_id, r.json()


@pytest.fixture(scope="session")
def _as_session() -> Iterator[ASHarness]:
    with MockServer(knobs=Knobs(), clock=ManualClock()) as srv:
        harness = ASHarness(srv.ctx, srv.urls.issuer)
        yield harness
        harness.http.close()


@pytest.fixture
def as_server(_as_session: ASHarness) -> Iterator[ASHarness]:
    """The session's MockServer with default knobs and empty state, journal, faults and gates.

    After the test, no request may have hit an unexpected exception: the middleware turns those into
    a JSON 500 and an ``internal_error`` journal entry, which would otherwise hide a bug in the AS.
    """
    ctx = _as_session.ctx
    ctx.gates.clear()
    ctx.faults.clear()
    ctx.knobs = Knobs()
    ctx.state.reset()
    ctx.journal.clear()
    yield _as_session
    assert not ctx.journal.entries("internal_error"), ctx.journal.entries("internal_error")
