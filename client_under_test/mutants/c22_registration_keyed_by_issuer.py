"""C22-registration-keyed-by-issuer: registrations are looked up by AS issuer alone.

Reproduces vscode #278512 and copilot-cli #1951: the client restarts on another loopback port and reuses
the client it registered for the old redirect URI; an AS that compares redirect URIs exactly refuses the
authorization request, and the user is stuck until the stored registration is deleted by hand.
"""

from client_under_test.reference import ReferenceClient

NAME = "C22-registration-keyed-by-issuer"


class Mutant(ReferenceClient):
    def _registration_key(self, issuer: str, redirect_uri: str | None = None) -> tuple[str, list[str]]:
        return issuer, []  # the bug: the redirect URIs are not part of the key
