"""Helpers the pytest plugin calls to label allure results (allure-pytest's dynamic API).

Inside a test run with `--alluredir DIR`:

    from reports import allure as rallure
    rallure.label_check(client="mutant:C08-...", scenario="refresh/mid_session_401_burst",
                        check="C08.single-refresh-redemption", requirements=["C08", "RFC6749-6"],
                        severity="critical", revision="2025-11-25")
    rallure.attach_verdict(check_row)        # message, evidence JSON and the sequence diagram SVG

Without `--alluredir` (or without allure-pytest) every helper is a no-op, so the plugin can call them
unconditionally. Labels written: client, client_kind, requirement (one per id), catalogue_id, revision,
scenario, check, severity, tags; suite/feature/story for the Allure tree views.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .catalogue import CATALOGUE, kind_of, mutant_catalogue_id
from .model import client_kind, redacted

try:  # allure-pytest is a dependency, but the report package must import without it
    import allure as _allure
except ImportError:  # pragma: no cover
    _allure = None

_SEVERITY = {"critical": "critical", "major": "normal", "minor": "minor", "blocker": "blocker",
             "normal": "normal", "trivial": "trivial"}


def available() -> bool:
    return _allure is not None


def catalogue_ids(requirements: Iterable[str], client: str = "") -> list[str]:
    """Catalogue ids a check touches: its own C-requirements, plus the mutant's id."""
    ids = [r for r in requirements if kind_of(r) == "catalogue"]
    mid = mutant_catalogue_id(client)
    if mid and mid not in ids:
        ids.append(mid)
    return ids


def labels_for(client: str, requirements: Iterable[str], severity: str | None = None,
               scenario: str | None = None, check: str | None = None,
               revision: str | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs, pure data: what `label_check` writes. Useful for tests and other reporters."""
    reqs = [str(r) for r in requirements]
    out = [("client", client), ("client_kind", client_kind(client))]
    out += [("requirement", r) for r in reqs]
    out += [("catalogue_id", c) for c in catalogue_ids(reqs, client)]
    if revision:
        out.append(("revision", revision))
    if scenario:
        out.append(("scenario", scenario))
    if check:
        out.append(("check", check))
    if severity:
        out.append(("severity", _SEVERITY.get(severity.lower(), "normal")))
    return out


def label_check(client: str, requirements: Iterable[str], severity: str | None = None, *,
                scenario: str | None = None, check: str | None = None, revision: str | None = None) -> None:
    """Attach our labels to the running test. No-op outside an allure-enabled pytest run."""
    if _allure is None:
        return
    d = _allure.dynamic
    reqs = [str(r) for r in requirements]
    for name, value in labels_for(client, reqs, None, scenario, check, revision):
        d.label(name, value)
    if severity:
        d.severity(_allure.severity_level(_SEVERITY.get(severity.lower(), "normal")))
    tags = [client, *reqs] + ([revision] if revision else [])
    d.tag(*tags)
    d.parameter("client", client)
    if revision:
        d.parameter("revision", revision)
    d.parent_suite(client_kind(client))
    d.suite(client)
    if scenario:
        area = scenario.split("/", 1)[0]
        d.feature(area)
        d.story(scenario)
    for cid in catalogue_ids(reqs, client):
        if cid in CATALOGUE:
            d.label("epic", f"{cid} {CATALOGUE[cid]}")


def attach_verdict(row: dict[str, Any], *, diagram: bool = True) -> None:
    """Attach a results.json check row: its message, redacted evidence, and a sequence diagram."""
    if _allure is None:
        return
    message = str(row.get("message") or "")
    if message:
        _allure.attach(f"{row.get('status', '')}: {message}", name="verdict",
                       attachment_type=_allure.attachment_type.TEXT)
    evidence = redacted([e for e in row.get("evidence") or [] if isinstance(e, dict)])
    if evidence:
        _allure.attach(json.dumps(evidence, indent=1, ensure_ascii=False, default=str), name="evidence",
                       attachment_type=_allure.attachment_type.JSON)
    journal = redacted([e for e in row.get("journal") or evidence if isinstance(e, dict)])
    if diagram and journal:
        from .seqdiag import render_svg

        hl = {int(h) for h in row.get("highlight") or [] if str(h).lstrip("-").isdigit()}
        svg = render_svg(journal, hl, title=f"{row.get('client', '')} · {row.get('scenario', '')}",
                         standalone=True)
        _allure.attach(str(svg), name="sequence diagram", attachment_type=_allure.attachment_type.SVG)
