"""C21-never-reregisters: a dead dynamic registration is never replaced.

Reproduces claude-code #72818 and supabase/mcp #355: the AS forgot (or expired) the dynamically registered
client, every token request answers ``invalid_client``, and the client keeps reusing the stored client_id
forever instead of registering again.
"""

from client_under_test.reference import ReferenceClient, Registration

NAME = "C21-never-reregisters"


class Mutant(ReferenceClient):
    def _may_reregister(self, reg: Registration) -> bool:
        return False  # the bug: a stored registration is kept whatever the AS says about it
