"""callbacks/: one scenario per ``error=`` code of the authorization response (C06, RFC 6749 §4.1.2.1)."""
