"""A second authorization server on the MCP origin, for authorization-server migration (C26, REG-3).

``knobs.second_as_path = "/as2"`` serves another AS under that path: its own issuer (``origin + path``),
clients, codes, tokens and signing keys, with its metadata at ``/.well-known/oauth-authorization-server/as2``
(and the two OIDC variants). It shares the journal, clock, faults and gates of the main one; its requests
are journaled with their ``path`` (``/as2/token``...), which is how checks tell the two apart.

``knobs.authorization_servers = ["/as2"]`` makes the PRM name it; from then on the resource server only
accepts the tokens the AS the PRM names first issued (:func:`trusted_as`), as after a real migration. The
main AS keeps answering (tokens it issues are simply no longer accepted by the resource server).
The second AS takes a snapshot of the knobs when it is built, without pre-registered clients.
"""

from __future__ import annotations

from mock_as.context import ServerContext, Urls


def second_as(ctx: ServerContext) -> ServerContext | None:
    """The second AS's context (built on first use), or None when ``knobs.second_as_path`` is unset."""
    path = ctx.knobs.second_as_path
    if not path or ctx.urls is None:
        return None
    issuer = ctx.urls.origin + path
    with ctx.lock:
        sub: ServerContext | None = ctx.second_as
        if sub is None or sub.urls is None or sub.urls.issuer != issuer:
            from mock_as.authorization import build_authorization

            knobs = ctx.knobs.patched({"pre_registered": [], "second_as_path": None, "authorization_servers": [],
                                       "layout": "default"})
            sub = ServerContext(knobs=knobs, clock=ctx.clock, journal=ctx.journal, faults=ctx.faults,
                                gates=ctx.gates, urls=Urls(origin=ctx.urls.origin, as_origin=ctx.urls.origin,
                                                           issuer=issuer, resource=ctx.urls.resource,
                                                           prm=ctx.urls.prm))
            build_authorization(sub)
            ctx.second_as = sub
    return sub


def trusted_as(ctx: ServerContext) -> ServerContext:
    """The AS whose tokens the resource server accepts: the second one once the PRM names it first."""
    sub = second_as(ctx)
    servers = ctx.knobs.authorization_servers
    if sub is not None and servers and sub.urls is not None:
        first = servers[0]
        if first == ctx.knobs.second_as_path or first.rstrip("/") == sub.urls.issuer:
            return sub
    return ctx
