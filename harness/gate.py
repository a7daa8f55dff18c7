"""The mutation gate: ``python -m harness.gate results.json``.

Every ``mutant:Cxx-...`` client in the file must FAIL at least one check whose requirements include its
own catalogue id Cxx (a failure tied to another id does not count: the suite must catch the bug it was
built for). Prints one line per survivor and a final ``mutants: N passed, M failed`` (N killed,
M survived). Exit 0 only when every mutant was killed and at least one mutant ran.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

_CID = re.compile(r"^(C\d{2})\b")


def catalogue_id(client: str) -> str | None:
    """``mutant:C08-no-refresh-singleflight`` -> ``C08``."""
    if not client.startswith("mutant:"):
        return None
    m = _CID.match(client.split(":", 1)[1])
    return m.group(1) if m else None


def tied(requirements: list[str], cid: str) -> bool:
    """A requirement is tied to Cxx when it is Cxx or Cxx.<sub> / Cxx-<sub> (never C080 for C08)."""
    return any(r == cid or r.startswith((cid + ".", cid + "-", cid + ":")) for r in requirements)


def evaluate(rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, str]]]:
    """(killed mutants, [(survivor, why)])."""
    mutants: set[str] = set()
    kills: dict[str, list[str]] = defaultdict(list)
    other: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        client = str(r.get("client", ""))
        if not client.startswith("mutant:"):
            continue
        mutants.add(client)
        if str(r.get("status", "")).upper() != "FAIL":
            continue
        reqs = [str(x) for x in (r.get("requirements") or [])]
        cid = catalogue_id(client)
        if cid and tied(reqs, cid):
            kills[client].append(str(r.get("check")))
        else:
            other[client].append(str(r.get("check")))
    killed = sorted(m for m in mutants if kills[m])
    survivors = []
    for m in sorted(mutants - set(killed)):
        cid = catalogue_id(m)
        if cid is None:
            why = "its name has no catalogue id (expected mutant:Cxx-short-description)"
        elif other[m]:
            why = f"failed only checks not tied to {cid}: {', '.join(sorted(set(other[m]))[:3])}"
        else:
            why = f"no check tied to {cid} failed"
        survivors.append((m, why))
    return killed, survivors


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m harness.gate RESULTS_JSON", file=sys.stderr)
        return 2
    path = Path(args[0])
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"mutation gate: cannot read {path}: {exc}", file=sys.stderr)
        print("mutants: 0 passed, 0 failed")
        return 1
    rows = data.get("checks", []) if isinstance(data, dict) else data
    killed, survivors = evaluate(rows)
    for m, why in survivors:
        print(f"survived: {m}: {why}")
    if not killed and not survivors:
        print("no mutant ran (select them with --client 'mutant:*')")
    print(f"mutants: {len(killed)} passed, {len(survivors)} failed")
    return 0 if killed and not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
