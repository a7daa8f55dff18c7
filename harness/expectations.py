"""Per-client expected failures (a YAML baseline), e.g.::

    mcp-python-sdk:
      - C14.refresh-before-authorize                      # a check id, in any scenario
      - refresh/concurrent_refresh_burst::C08.no-family-revoked   # one check of one scenario
      - refresh/mid_session_401                           # every check of a scenario
    "mutant:*": []                                        # client keys may be globs

A listed check that fails makes its test xfail (strict); a listed check that passes is stale and fails
the test, so the baseline cannot rot.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ExpectationsError(ValueError):
    pass


@dataclass
class Expectations:
    path: str = ""
    by_client: dict[str, list[str]] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)  # (client pattern, entry) that matched a check

    @classmethod
    def load(cls, path: str | Path) -> Expectations:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise ExpectationsError(f"--expected-failures {path}: no such file")
        try:
            data: Any = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise ExpectationsError(f"--expected-failures {path}: not valid YAML"
                                    + (f" (line {line + 1})" if line is not None else "")) from None
        if not isinstance(data, dict) or not all(isinstance(v, list | type(None)) for v in data.values()):
            raise ExpectationsError(f"--expected-failures {path}: expected a mapping client -> list of check ids")
        return cls(str(path), {str(k): [str(x) for x in (v or [])] for k, v in data.items()})

    def _entries(self, client: str) -> list[tuple[str, str]]:
        return [(pat, e) for pat, es in self.by_client.items() if fnmatch.fnmatchcase(client, pat) for e in es]

    def listed(self, client: str, scenario: str, check: str) -> str | None:
        """The baseline entry that lists this check for this client, or None."""
        for pat, entry in self._entries(client):
            if entry in (check, scenario, f"{scenario}::{check}"):
                self.used.add((pat, entry))
                return entry
        return None

    def any_listed(self, client: str, scenario: str, checks: list[str]) -> bool:
        return any(self.listed(client, scenario, c) for c in checks)

    def unused(self, clients: list[str]) -> list[str]:
        """Entries for clients in this run that matched no check at all (typos, removed checks)."""
        return [f"{pat}: {e}" for pat, es in self.by_client.items() for e in es
                if any(fnmatch.fnmatchcase(c, pat) for c in clients) and (pat, e) not in self.used]
