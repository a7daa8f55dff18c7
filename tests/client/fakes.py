"""A scriptable fake authorization server + PRM host on ``httpx.MockTransport`` for fast unit tests.

It is deliberately small: discovery documents, /register, /authorize (302 with code/state/iss), /token
(authorization_code with S256 verification, refresh_token with optional rotation). Every request is
recorded in ``requests``; ``status`` forces a status on a path; ``token_hook`` can answer /token.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from client_under_test.reference import ClientConfig, ReferenceClient, RetryPolicy
from client_under_test.stores import MemoryStore
from client_under_test.user_agent import HeadlessUserAgent

ORIGIN = "https://mcp.example"
SERVER = ORIGIN + "/mcp"

TokenHook = Callable[[dict[str, str], httpx.Request], Awaitable[httpx.Response | None] | httpx.Response | None]


@dataclass
class Issued:
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # rt -> client_id
    codes: dict[str, dict[str, str]] = field(default_factory=dict)


class FakeAS:
    def __init__(self, *, issuer: str = ORIGIN, prm_resource: str = SERVER, iss_supported: bool = True,
                 send_iss: str | None = "correct", pkce: list[str] | None = None, scopes: list[str] | None = None,
                 token_path: str = "/token", rotate: bool = True, expires_in: int = 3600) -> None:
        self.issuer = issuer
        self.prm_resource = prm_resource
        self.iss_supported = iss_supported
        self.send_iss = send_iss
        self.pkce = ["S256"] if pkce is None else pkce
        self.scopes = scopes if scopes is not None else ["mcp:read", "mcp:write"]
        self.token_path = token_path
        self.rotate = rotate
        self.expires_in = expires_in
        self.status: dict[str, int] = {}
        self.metadata_extra: dict[str, Any] = {}
        self.token_hook: TokenHook | None = None
        self.requests: list[httpx.Request] = []
        self.issued = Issued()
        self._n = itertools.count(1)

    # -- helpers for tests --------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.url.path for r in self.requests if method is None or r.method == method]

    def token_forms(self, grant_type: str | None = None) -> list[dict[str, str]]:
        forms = [dict(parse_qsl(r.content.decode())) for r in self.requests if r.url.path.endswith(self.token_path)]
        return [f for f in forms if grant_type is None or f.get("grant_type") == grant_type]

    def metadata(self) -> dict[str, Any]:
        iss_path = urlsplit(self.issuer).path
        doc: dict[str, Any] = {
            "issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": ORIGIN + iss_path + self.token_path, "registration_endpoint": self.issuer + "/register",
            "response_types_supported": ["code"], "scopes_supported": self.scopes,
            "authorization_response_iss_parameter_supported": self.iss_supported,
        }
        if self.pkce:
            doc["code_challenge_methods_supported"] = self.pkce
        doc.update(self.metadata_extra)
        return doc

    def new_tokens(self, client_id: str, scope: str | None = None, *, with_rt: bool = True) -> dict[str, Any]:
        n = next(self._n)
        body: dict[str, Any] = {"access_token": f"at-{n}", "token_type": "Bearer", "expires_in": self.expires_in}
        if with_rt:
            rt = f"rt-{n}"
            self.issued.refresh_tokens[rt] = client_id
            body["refresh_token"] = rt
        if scope:
            body["scope"] = scope
        return body

    # -- the server ---------------------------------------------------------------------------------
    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.status:
            code = self.status[path]
            return httpx.Response(code, text="<html>nope</html>", headers={"content-type": "text/html"})
        iss_path = urlsplit(self.issuer).path
        if request.method == "GET" and path == "/.well-known/oauth-protected-resource/mcp":
            return httpx.Response(200, json={"resource": self.prm_resource, "authorization_servers": [self.issuer],
                                             "scopes_supported": self.scopes})
        if request.method == "GET" and path in ("/.well-known/oauth-authorization-server" + iss_path,
                                                "/.well-known/openid-configuration" + iss_path):
            return httpx.Response(200, json=self.metadata())
        if request.method == "POST" and path == iss_path + "/register":
            body = json.loads(request.content)
            return httpx.Response(201, json={"client_id": f"client-{next(self._n)}", **body})
        if request.method == "GET" and path == iss_path + "/authorize":
            q = dict(parse_qsl(request.url.query.decode()))
            code = f"code-{next(self._n)}"
            self.issued.codes[code] = q
            params = {"code": code, "state": q["state"]}
            if self.send_iss == "correct":
                params["iss"] = self.issuer
            elif self.send_iss == "wrong":
                params["iss"] = "https://evil.example"
            return httpx.Response(302, headers={"location": q["redirect_uri"] + "?" + urlencode(params)})
        if request.method == "POST" and path == iss_path + self.token_path:
            form = dict(parse_qsl(request.content.decode()))
            if self.token_hook is not None:
                got = self.token_hook(form, request)
                if hasattr(got, "__await__"):
                    got = await got  # type: ignore[misc]
                if got is not None:
                    return got  # type: ignore[return-value]
            return self.token_endpoint(form, request)
        return httpx.Response(404, text="not found")

    def token_endpoint(self, form: dict[str, str], request: httpx.Request) -> httpx.Response:
        client_id = form.get("client_id") or _basic_id(request)
        if form.get("grant_type") == "authorization_code":
            q = self.issued.codes.pop(form.get("code", ""), None)
            if q is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
            if challenge != q.get("code_challenge") or q.get("client_id") != client_id:
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "pkce or client"})
            return httpx.Response(200, json=self.new_tokens(client_id or "", q.get("scope")))
        if form.get("grant_type") == "refresh_token":
            rt = form.get("refresh_token", "")
            if rt not in self.issued.refresh_tokens:
                return httpx.Response(400, json={"error": "invalid_grant"})
            owner = self.issued.refresh_tokens[rt]
            if self.rotate:
                del self.issued.refresh_tokens[rt]
                return httpx.Response(200, json=self.new_tokens(owner))
            body = self.new_tokens(owner, with_rt=False)
            return httpx.Response(200, json=body)
        return httpx.Response(400, json={"error": "unsupported_grant_type"})


def _basic_id(request: httpx.Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Basic "):
        return None
    return base64.b64decode(auth[6:]).decode().split(":", 1)[0]


def make_client(fake: FakeAS, store: Any = None, *, ua: HeadlessUserAgent | None = None, clock: Any = None,
                cls: type[ReferenceClient] = ReferenceClient, **config: Any) -> ReferenceClient:
    config.setdefault("retry", RetryPolicy(attempts=3, backoff_base_s=0.0))
    config.setdefault("flow_poll_s", 0.005)
    config.setdefault("flow_wait_s", 5.0)
    ua = ua or HeadlessUserAgent(http_transport=fake.transport())
    if ua.http_transport is None:
        ua.http_transport = fake.transport()
    return cls(SERVER, store if store is not None else MemoryStore(), ua, ClientConfig(**config), clock,
               http_transport=fake.transport())
