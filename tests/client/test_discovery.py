"""Discovery order per revision (PRM-1/2, ASM-1/2, LEG-1, C23), resource and issuer checks (PRM-3, ASM-3),
PKCE refusal (PKCE-1/2) and WWW-Authenticate parsing."""

from __future__ import annotations

import pytest

from client_under_test.reference import MetadataRejected, PKCEUnsupported, ResourceMismatch, TransientError
from client_under_test.reference.discovery_urls import (
    Challenge,
    as_metadata_urls,
    canonical_resource,
    issuer_matches,
    parse_www_authenticate,
    prm_resource_matches,
    prm_well_known_urls,
)
from tests.client.fakes import ORIGIN, SERVER, FakeAS, make_client

pytestmark = pytest.mark.anyio


def test_parse_www_authenticate() -> None:
    c = parse_www_authenticate('Bearer error="insufficient_scope", scope="a b", resource_metadata="https://x/y"')
    assert c is not None and c.error == "insufficient_scope" and c.scope == "a b"
    assert c.resource_metadata == "https://x/y"
    bare = parse_www_authenticate("Bearer")
    assert bare is not None and bare.params == {} and bare.resource_metadata is None
    multi = parse_www_authenticate(['Basic realm="r", Bearer scope="s", error_description="say \\"hi\\""'])
    assert multi is not None and multi.scope == "s" and multi.params["error_description"] == 'say "hi"'
    assert parse_www_authenticate('Basic realm="x"') is None
    assert parse_www_authenticate(None) is None


def test_url_orders() -> None:
    assert prm_well_known_urls("https://h/mcp") == [
        ("https://h/.well-known/oauth-protected-resource/mcp", "path"),
        ("https://h/.well-known/oauth-protected-resource", "root")]
    assert prm_well_known_urls("https://h") == [("https://h/.well-known/oauth-protected-resource", "root")]
    assert as_metadata_urls("https://as/tenant1") == [
        "https://as/.well-known/oauth-authorization-server/tenant1",
        "https://as/.well-known/openid-configuration/tenant1",
        "https://as/tenant1/.well-known/openid-configuration"]
    assert as_metadata_urls("https://as") == [
        "https://as/.well-known/oauth-authorization-server", "https://as/.well-known/openid-configuration"]


def test_canonical_resource_and_matching() -> None:
    assert canonical_resource("HTTPS://Mcp.Example/mcp/#frag") == "https://mcp.example/mcp"
    assert prm_resource_matches("https://mcp.example/mcp/", "https://mcp.example/mcp", "path")
    assert not prm_resource_matches("https://evil.example/mcp", "https://mcp.example/mcp", "path")
    assert prm_resource_matches("https://mcp.example", "https://mcp.example/mcp", "root")
    assert not prm_resource_matches("https://mcp.example", "https://mcp.example/mcp", "header")
    assert issuer_matches("https://as/", "https://as", exact=False)
    assert not issuer_matches("https://as/", "https://as", exact=True)


async def test_prm_order_header_then_path_then_root(fake_as: FakeAS) -> None:
    fake_as.status["/custom/prm.json"] = 404
    fake_as.status["/.well-known/oauth-protected-resource/mcp"] = 404
    client = make_client(fake_as)
    # the root answers 404 from the fake too: discovery falls back to the AS at the origin (pre-2026)
    target = await client._discover(Challenge(params={"resource_metadata": ORIGIN + "/custom/prm.json"}))
    gets = fake_as.paths("GET")
    assert gets[:3] == ["/custom/prm.json", "/.well-known/oauth-protected-resource/mcp",
                        "/.well-known/oauth-protected-resource"]
    assert target.asm.issuer == ORIGIN


async def test_bare_bearer_uses_well_known(fake_as: FakeAS) -> None:
    client = make_client(fake_as)
    target = await client._discover(parse_www_authenticate("Bearer"))
    assert fake_as.paths("GET")[0] == "/.well-known/oauth-protected-resource/mcp"
    assert target.prm and target.prm_scopes == ["mcp:read", "mcp:write"]


async def test_5xx_stops_discovery(fake_as: FakeAS) -> None:
    fake_as.status["/.well-known/oauth-protected-resource/mcp"] = 502
    client = make_client(fake_as)
    with pytest.raises(TransientError):
        await client._discover(None)
    assert fake_as.paths("GET") == ["/.well-known/oauth-protected-resource/mcp"]  # C23: never the root after a 5xx


async def test_issuer_with_path_order(fake_as: FakeAS) -> None:
    fake_as.issuer = ORIGIN + "/tenant1"
    fake_as.status["/.well-known/oauth-authorization-server/tenant1"] = 404
    fake_as.status["/.well-known/openid-configuration/tenant1"] = 404
    fake_as.status["/tenant1/.well-known/openid-configuration"] = 200  # forced: HTML, not JSON -> next/none
    client = make_client(fake_as)
    with pytest.raises(Exception, match="no authorization server metadata"):
        await client._discover(None)
    assert fake_as.paths("GET")[1:] == ["/.well-known/oauth-authorization-server/tenant1",
                                        "/.well-known/openid-configuration/tenant1",
                                        "/tenant1/.well-known/openid-configuration"]
    assert "/.well-known/oauth-authorization-server" not in fake_as.paths("GET")


async def test_resource_mismatch_refused(fake_as: FakeAS) -> None:
    fake_as.prm_resource = "https://evil.example/mcp"
    client = make_client(fake_as)
    with pytest.raises(ResourceMismatch):
        await client._discover(None)


@pytest.mark.parametrize("revision,ok", [("2025-06-18", True), ("2025-11-25", False), ("2026-07-28", False)])
async def test_pkce_methods_missing(revision: str, ok: bool) -> None:
    fake = FakeAS(pkce=[])
    client = make_client(fake, revision=revision)
    if ok:
        assert (await client._discover(None)).asm.code_challenge_methods_supported is None
    else:
        with pytest.raises(PKCEUnsupported):
            await client._discover(None)


async def test_pkce_without_s256_refused() -> None:
    fake = FakeAS(pkce=["plain"])
    with pytest.raises(PKCEUnsupported):
        await make_client(fake, revision="2025-06-18")._discover(None)


async def test_issuer_mismatch_rejected(fake_as: FakeAS) -> None:
    fake_as.metadata_extra["issuer"] = "https://other.example"
    with pytest.raises(MetadataRejected):
        await make_client(fake_as)._discover(None)


async def test_legacy_2025_03_26_defaults(fake_as: FakeAS) -> None:
    fake_as.status["/.well-known/oauth-authorization-server"] = 404
    client = make_client(fake_as, revision="2025-03-26")
    target = await client._discover(None)
    assert fake_as.paths("GET") == ["/.well-known/oauth-authorization-server"]  # no PRM in 2025-03-26
    asm = target.asm
    assert (asm.authorization_endpoint, asm.token_endpoint, asm.registration_endpoint) == (
        ORIGIN + "/authorize", ORIGIN + "/token", ORIGIN + "/register")
    assert client.resource == SERVER
