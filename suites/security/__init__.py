"""security/: state, iss, resource, bearer tokens, step-up scopes and AS migration (STATE-1, ISS-1, RES-1,
TOK-1, SCO-1/2/3, C25, C26)."""
