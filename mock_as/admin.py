"""The admin API under ``/_admin/`` (JSON): how a person, or a harness in another process, drives the mock.

Every error is a 4xx JSON ``{"error", "error_description"}`` with a one-line description. When the
server listens on a non-loopback address, every admin request needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mock_as.faults import ENDPOINTS, Fault
from mock_as.gates import Gate
from mock_as.knobs import KnobError, one_line

if TYPE_CHECKING:
    from mock_as.app import Control


class ClockNotManual(RuntimeError):
    """Advancing time needs a ManualClock; the system clock only moves by itself."""


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=str, ensure_ascii=False).encode()


def _err(status: int, description: str, error: str = "invalid_request") -> JSON:
    return JSON({"error": error, "error_description": description}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise _BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _BadRequest("the body must be a JSON object")
    return doc


class _BadRequest(Exception):
    pass


_GATE_FIELDS = {"name", "endpoint", "match", "phase", "release_at", "max_holds", "timeout_s"}


def gate_from_dict(doc: dict[str, Any]) -> Gate:
    unknown = sorted(set(doc) - _GATE_FIELDS)
    if unknown:
        raise _BadRequest(f"unknown gate field {', '.join(unknown)}; valid: {', '.join(sorted(_GATE_FIELDS))}")
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        raise _BadRequest("a gate needs a name")
    if doc.get("endpoint") not in ENDPOINTS:
        raise _BadRequest(f"unknown endpoint {doc.get('endpoint')!r}; choose one of {', '.join(ENDPOINTS)}")
    if doc.get("phase", "request") not in ("request", "response"):
        raise _BadRequest("phase: expected 'request' or 'response'")
    if not isinstance(doc.get("match", {}), dict):
        raise _BadRequest("match must be an object of param name -> value")
    for key in ("release_at", "max_holds"):
        if doc.get(key) is not None and (not isinstance(doc[key], int) or doc[key] < 1):
            raise _BadRequest(f"{key} must be a positive integer")
    if not isinstance(doc.get("timeout_s", 15.0), int | float):
        raise _BadRequest("timeout_s must be a number of seconds")
    return Gate(**doc)


def admin_routes(control: Control, admin_token: str | None = None) -> list[BaseRoute]:
    ctx = control.ctx

    def guarded(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if admin_token is not None:
                auth = request.headers.get("authorization", "")
                given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
                if not hmac.compare_digest(given.encode(), admin_token.encode()):
                    return JSON({"error": "invalid_token",
                                 "error_description": "the admin API needs Authorization: Bearer <admin token>"},
                                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="mock_as admin"'})
            try:
                return await fn(request)
            except _BadRequest as exc:
                return _err(400, str(exc))
            except KnobError as exc:
                return _err(400, str(exc))
            except ValidationError as exc:
                return _err(400, one_line(exc))
        return endpoint

    async def get_knobs(request: Request) -> Response:
        return JSON(ctx.knobs.model_dump(mode="json"))

    async def patch_knobs(request: Request) -> Response:
        changes = await _body(request)
        control.set_knobs(**changes)
        return JSON(ctx.knobs.model_dump(mode="json"))

    async def get_faults(request: Request) -> Response:
        return JSON({"faults": ctx.faults.describe()})

    async def post_fault(request: Request) -> Response:
        fault = control.arm_fault(Fault.model_validate(await _body(request)))
        return JSON(fault.model_dump(), status_code=201)

    async def delete_faults(request: Request) -> Response:
        ctx.faults.clear()
        return JSON({"faults": []})

    async def get_gates(request: Request) -> Response:
        return JSON({"gates": ctx.gates.describe()})

    async def post_gate(request: Request) -> Response:
        try:
            gate = control.arm_gate(gate_from_dict(await _body(request)))
        except ValueError as exc:
            return _err(409, str(exc))
        return JSON(gate.describe(), status_code=201)

    async def release_gate(request: Request) -> Response:
        name = request.path_params["name"]
        raw = request.query_params.get("count")
        try:
            count = None if raw in (None, "", "all") else int(raw)
        except ValueError:
            return _err(400, f"count must be an integer or 'all', not {raw!r}")
        try:
            gate = ctx.gates.get(name)
        except KeyError as exc:
            return _err(404, str(exc.args[0]), "not_found")
        released = gate.release(count)
        return JSON({"released": released, "gate": gate.describe()})

    async def delete_gate(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            ctx.gates.get(name)
        except KeyError as exc:
            return _err(404, str(exc.args[0]), "not_found")
        ctx.gates.remove(name)
        return JSON({"removed": name})

    async def revoke(request: Request) -> Response:
        body = await _body(request)
        return JSON({"revoked": control.revoke_access_tokens(body.get("client_id"))})

    async def expire(request: Request) -> Response:
        body = await _body(request)
        return JSON({"expired": control.expire_access_tokens(body.get("client_id"))})

    async def get_clock(request: Request) -> Response:
        return JSON({"kind": getattr(ctx.clock, "kind", "system"), "now": ctx.clock.now()})

    async def post_clock(request: Request) -> Response:
        body = await _body(request)
        if "advance" not in body:
            return _err(400, 'say how far to move the clock: {"advance": "30s"}')
        try:
            now = control.advance_clock(body["advance"])
        except ClockNotManual as exc:
            return _err(409, str(exc), "conflict")
        except ValueError as exc:
            return _err(400, str(exc))
        return JSON({"kind": "manual", "now": now})

    async def get_journal(request: Request) -> Response:
        q = request.query_params
        try:
            since = int(q.get("since", "0") or 0)
        except ValueError:
            return _err(400, f"since must be an integer sequence number, not {q.get('since')!r}")
        kinds = [k for raw in q.getlist("kind") for k in raw.split(",") if k] or None
        assert ctx.journal is not None
        entries = [e.to_dict() for e in ctx.journal.entries(kind=kinds, since=since)]
        return JSON({"entries": entries, "last_seq": ctx.journal.last_seq})

    async def reset(request: Request) -> Response:
        control.reset()
        return JSON({"reset": True, "knobs": ctx.knobs.model_dump(mode="json")})

    async def openapi(request: Request) -> Response:
        return JSON(openapi_document(control))

    async def index(request: Request) -> Response:
        return JSON({"admin": "mock_as", "openapi": "/_admin/openapi.json",
                     "endpoints": sorted({p for p, _ in _ADMIN_OPS})})

    def r(path: str, fn: Any, methods: list[str]) -> Route:
        return Route(path, guarded(fn), methods=methods)

    return [
        r("/", index, ["GET"]),
        r("/knobs", get_knobs, ["GET"]), r("/knobs", patch_knobs, ["PATCH", "POST"]),
        r("/faults", get_faults, ["GET"]), r("/faults", post_fault, ["POST"]), r("/faults", delete_faults, ["DELETE"]),
        r("/gates", get_gates, ["GET"]), r("/gates", post_gate, ["POST"]),
        r("/gates/{name}/release", release_gate, ["POST"]), r("/gates/{name}", delete_gate, ["DELETE"]),
        r("/revoke", revoke, ["POST"]), r("/expire", expire, ["POST"]),
        r("/clock", get_clock, ["GET"]), r("/clock", post_clock, ["POST"]),
        r("/journal", get_journal, ["GET"]), r("/reset", reset, ["POST"]),
        r("/openapi.json", openapi, ["GET"]),
    ]


_ADMIN_OPS: list[tuple[str, str]] = [
    ("/_admin/knobs", "get"), ("/_admin/knobs", "patch"), ("/_admin/faults", "get"), ("/_admin/faults", "post"),
    ("/_admin/faults", "delete"), ("/_admin/gates", "get"), ("/_admin/gates", "post"),
    ("/_admin/gates/{name}/release", "post"), ("/_admin/gates/{name}", "delete"), ("/_admin/revoke", "post"),
    ("/_admin/expire", "post"), ("/_admin/clock", "get"), ("/_admin/clock", "post"), ("/_admin/journal", "get"),
    ("/_admin/reset", "post"), ("/_admin/openapi.json", "get"),
]


def _obj(props: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": "object", **extra}
    if props is not None:
        doc["properties"] = props
    return doc


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _form_body(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"application/x-www-form-urlencoded": {
        "schema": _obj({k: {"type": "string", "description": v} for k, v in props.items()}, required=required)}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    resp: dict[str, Any] = {"description": description}
    if schema is not None:
        resp["content"] = {"application/json": {"schema": schema}}
    return resp


_ERR = {"$ref": "#/components/schemas/Error"}
_ERRORS = {"400": _ok("bad input: an RFC 6749-shaped error with a one-line description", _ERR)}


def openapi_document(control: Control) -> dict[str, Any]:
    """A hand-written OpenAPI 3.1 description of the admin API and of the OAuth / MCP endpoints.

    The OAuth paths shown are the current layout's (``knobs.layout``); servers lists both origins.
    """
    from mock_as.discovery import plan_for

    ctx = control.ctx
    urls = ctx.urls
    plan = plan_for(ctx.knobs)
    iss = plan.issuer_prefix
    ref = "#/components/schemas/{model}"
    knobs_schema = type(ctx.knobs).model_json_schema(ref_template=ref)
    fault_schema = Fault.model_json_schema(ref_template=ref)
    defs = {**knobs_schema.pop("$defs", {}), **fault_schema.pop("$defs", {})}
    gate_schema = _obj({
        "name": {"type": "string"}, "endpoint": {"type": "string", "enum": list(ENDPOINTS)},
        "match": {"type": "object", "additionalProperties": {"type": "string"},
                  "description": "request params (form, query, JSON top level; for mcp: method, tool)"},
        "phase": {"type": "string", "enum": ["request", "response"]},
        "release_at": {"type": ["integer", "null"], "description": "release everyone once this many wait"},
        "max_holds": {"type": ["integer", "null"]}, "timeout_s": {"type": "number"}}, required=["name", "endpoint"])
    journal_entry = _obj({k: {} for k in ("seq", "ts", "wall", "kind", "endpoint", "actor", "client_id", "flow",
                                          "family", "exchange", "data")})
    paths: dict[str, Any] = {
        "/_admin/knobs": {
            "get": {"summary": "Read the knobs", "responses": {"200": _ok("the knobs", {"$ref": "#/components/schemas/Knobs"})}},
            "patch": {"summary": "Change knobs (validated; journaled as knobs_changed)",
                      "requestBody": _json_body(_obj(additionalProperties=True)),
                      "responses": {"200": _ok("the new knobs"), **_ERRORS}}},
        "/_admin/faults": {
            "get": {"summary": "List armed faults", "responses": {"200": _ok("armed faults")}},
            "post": {"summary": "Arm a fault", "requestBody": _json_body({"$ref": "#/components/schemas/Fault"}),
                     "responses": {"201": _ok("the armed fault"), **_ERRORS}},
            "delete": {"summary": "Disarm every fault", "responses": {"200": _ok("no faults left")}}},
        "/_admin/gates": {
            "get": {"summary": "List gates and how many requests each holds", "responses": {"200": _ok("gates")}},
            "post": {"summary": "Arm a gate", "requestBody": _json_body({"$ref": "#/components/schemas/Gate"}),
                     "responses": {"201": _ok("the gate"), **_ERRORS, "409": _ok("a gate with that name exists", _ERR)}}},
        "/_admin/gates/{name}/release": {"post": {
            "summary": "Release the oldest held requests (all without count)",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "count", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": _ok("how many were released"), "404": _ok("no such gate", _ERR)}}},
        "/_admin/gates/{name}": {"delete": {
            "summary": "Remove a gate (releasing what it holds)",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _ok("removed"), "404": _ok("no such gate", _ERR)}}},
        "/_admin/revoke": {"post": {"summary": "Revoke access tokens now (all, or one client's)",
                                    "requestBody": _json_body(_obj({"client_id": {"type": "string"}}), False),
                                    "responses": {"200": _ok("revoked")}}},
        "/_admin/expire": {"post": {"summary": "Expire access tokens now (all, or one client's)",
                                    "requestBody": _json_body(_obj({"client_id": {"type": "string"}}), False),
                                    "responses": {"200": _ok("expired")}}},
        "/_admin/clock": {
            "get": {"summary": "The mock's clock", "responses": {"200": _ok("kind and now")}},
            "post": {"summary": "Advance the manual clock", "requestBody": _json_body(_obj(
                {"advance": {"type": ["string", "number"], "description": "seconds, or 2s / 30m / 1h"}},
                required=["advance"])), "responses": {"200": _ok("the new time"), **_ERRORS,
                                                     "409": _ok("the server runs on the system clock", _ERR)}}},
        "/_admin/journal": {"get": {
            "summary": "Journal entries after a sequence number",
            "parameters": [{"name": "since", "in": "query", "schema": {"type": "integer"}},
                           {"name": "kind", "in": "query", "schema": {"type": "string"},
                            "description": "an entry kind, or several separated by commas"}],
            "responses": {"200": _ok("entries", _obj({"entries": {"type": "array", "items": journal_entry},
                                                      "last_seq": {"type": "integer"}}))}}},
        "/_admin/reset": {"post": {"summary": "Back to the start: initial knobs, no faults or gates, empty AS "
                                              "state and journal", "responses": {"200": _ok("reset")}}},
        "/_admin/openapi.json": {"get": {"summary": "This document", "responses": {"200": _ok("OpenAPI 3.1")}}},
    }
    oauth: dict[str, Any] = {}
    for p in plan.as_metadata_paths:
        oauth[p] = {"get": {"summary": "RFC 8414 authorization server metadata", "tags": ["discovery"],
                            "responses": {"200": _ok("metadata")}}}
    for p in plan.oidc_paths:
        oauth[p] = {"get": {"summary": "OpenID Connect discovery", "tags": ["discovery"],
                            "responses": {"200": _ok("metadata")}}}
    if plan.prm_path:
        oauth[plan.prm_path] = {"get": {"summary": "RFC 9728 protected resource metadata", "tags": ["discovery"],
                                        "responses": {"200": _ok("PRM")}}}
    oauth[iss + "/authorize"] = {"get": {
        "summary": "Authorization endpoint (consent per knobs.consent); redirects back with code, state, iss",
        "tags": ["oauth"], "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in (
            "response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method",
            "scope", "resource")], "responses": {"302": _ok("redirect to redirect_uri"), **_ERRORS}}}
    oauth[iss + ctx.knobs.token_endpoint_path] = {"post": {
        "summary": "Token endpoint: authorization_code and refresh_token grants", "tags": ["oauth"],
        "requestBody": _form_body({"grant_type": "authorization_code | refresh_token", "code": "", "redirect_uri": "",
                                   "code_verifier": "", "refresh_token": "", "client_id": "", "resource": "",
                                   "scope": ""}, ["grant_type"]),
        "responses": {"200": _ok("tokens"), **_ERRORS, "401": _ok("invalid_client", _ERR)}}}
    oauth[iss + "/register"] = {"post": {"summary": "RFC 7591 dynamic client registration", "tags": ["oauth"],
                                         "requestBody": _json_body(_obj(additionalProperties=True)),
                                         "responses": {"201": _ok("the client"), **_ERRORS}}}
    oauth[iss + "/revoke"] = {"post": {"summary": "RFC 7009 revocation", "tags": ["oauth"],
                                       "requestBody": _form_body({"token": "", "token_type_hint": ""}, ["token"]),
                                       "responses": {"200": _ok("revoked")}}}
    oauth[iss + "/introspect"] = {"post": {"summary": "RFC 7662 introspection", "tags": ["oauth"],
                                           "requestBody": _form_body({"token": ""}, ["token"]),
                                           "responses": {"200": _ok("active or not")}}}
    oauth[iss + "/jwks"] = {"get": {"summary": "JWKS of the access-token signing keys", "tags": ["oauth"],
                                    "responses": {"200": _ok("JWK set")}}}
    oauth["/mcp"] = {m: {"summary": f"MCP Streamable HTTP ({m.upper()}), behind the bearer layer", "tags": ["mcp"],
                         "security": [{"bearer": []}],
                         "responses": {"200": _ok("JSON-RPC / SSE"), "401": _ok("WWW-Authenticate challenge", _ERR),
                                       "403": _ok("insufficient_scope", _ERR)}} for m in ("post", "get", "delete")}
    servers = [{"url": urls.origin, "description": "MCP origin"}] if urls else []
    if urls and urls.as_origin != urls.origin:
        servers.append({"url": urls.as_origin, "description": "authorization server origin"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "mock_as: mock OAuth authorization server and MCP resource server", "version": "0.1.0",
                 "description": f"Admin API and the OAuth/MCP endpoints of layout {plan.layout!r}."},
        "servers": servers,
        "paths": {**paths, **oauth},
        "components": {
            "schemas": {"Error": _obj({"error": {"type": "string"}, "error_description": {"type": "string"}},
                                      required=["error"]),
                        "Knobs": knobs_schema, "Fault": fault_schema, "Gate": gate_schema, **defs},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "admin": {"type": "http", "scheme": "bearer",
                                          "description": "required when the server is not on loopback"}}},
    }
