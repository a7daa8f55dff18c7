"""C25-challenged-scope-only: step-up asks for the challenged scope alone.

Reproduces claude-code #44652 / #28258 and python-sdk #2676: on 403 insufficient_scope the client
re-authorizes with only the scope the challenge names, losing the ones it had; the next request fails for
those, and the client alternates between the two.
"""

from client_under_test.reference import ReferenceClient

NAME = "C25-challenged-scope-only"


class Mutant(ReferenceClient):
    def _step_up_scope(self, current: str | None, challenged: str) -> str:
        return challenged  # the bug: the scopes already held are dropped
