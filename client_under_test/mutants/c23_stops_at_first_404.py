"""C23-stops-at-first-404: any error status on a well-known URL ends discovery.

Reproduces typescript-sdk #804 / #744 and python-sdk #1944: the path-aware metadata URL answers 404 (or a
gateway's 401/403), the client takes it as "this server has no metadata" and fails, although the next URL
of the spec's order serves the document.
"""

from client_under_test.reference import ReferenceClient

NAME = "C23-stops-at-first-404"


class Mutant(ReferenceClient):
    def _continue_discovery(self, status: int) -> bool:
        return False  # the bug: a 404 (or any 4xx) is final instead of "try the next URL"
