"""pkce/: PKCE S256 always, and refusing an AS that does not advertise it (PKCE-1, PKCE-2)."""
