"""results.json -> the numbers and groupings every output (HTML, text, JUnit) shows.

Tolerant by design: anything optional may be missing, and odd values are coerced rather than fatal.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import kind_of, mutant_catalogue_id, title_of
from .redact import redact, scrub_text

STATUSES = ("FAIL", "WARN", "PASS", "INFO", "SKIP")
#: Lower is worse. Used for the matrix colour (worst status wins).
WORST_ORDER = {"FAIL": 0, "WARN": 1, "PASS": 2, "INFO": 3, "SKIP": 4}
#: Higher is better. Used for the baseline comparison.
GOODNESS = {"FAIL": 0, "WARN": 1, "INFO": 2, "SKIP": 2, "PASS": 3}
_ALIASES = {"FAILED": "FAIL", "FAILURE": "FAIL", "ERROR": "FAIL", "PASSED": "PASS", "OK": "PASS",
            "SKIPPED": "SKIP", "WARNING": "WARN", "XFAIL": "FAIL", "XPASS": "PASS"}
KIND_ORDER = {"catalogue": 0, "spec": 1, "rfc": 2, "other": 3}


class ResultsError(Exception):
    """A results file that cannot be read; the message is one line, fit for a CLI."""


def load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ResultsError(f"{p}: no such file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{p}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{p}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(data, list):  # a bare list of checks
        data = {"run": {}, "checks": data}
    if not isinstance(data, dict) or not isinstance(data.get("checks", []), list) \
            or not all(isinstance(c, dict) for c in data.get("checks", [])):
        raise ResultsError(f"{p}: not a results.json (expected an object with a 'checks' list of objects)")
    return data


def norm_status(value: Any) -> str:
    s = str(value or "").strip().upper()
    s = _ALIASES.get(s, s)
    return s if s in WORST_ORDER else "INFO"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _entries(value: Any) -> list[dict[str, Any]]:
    """Journal entries as dicts. Not yet redacted: `redacted()` does that for whatever gets rendered."""
    return [e for e in _as_list(value) if isinstance(e, dict)]


def redacted(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries fit for display: secrets cut to their prefix, `data` always a dict."""
    out = []
    for e in entries:
        e = redact(e)
        if not isinstance(e.get("data"), dict):
            e["data"] = {} if e.get("data") is None else {"value": e.get("data")}
        out.append(e)
    return out


@dataclass
class Check:
    idx: int
    client: str
    scenario: str
    check: str
    requirements: list[str]
    status: str
    revision: str
    message: str
    duration_s: float | None
    severity: str
    evidence: list[dict[str, Any]]
    highlight: list[int]
    journal: list[dict[str, Any]]

    @property
    def anchor(self) -> str:
        return f"k{self.idx}"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.client, self.scenario, self.check, self.revision)


def normalise_check(idx: int, raw: dict[str, Any]) -> Check:
    reqs = raw.get("requirements", raw.get("requirement"))
    return Check(
        idx=idx,
        client=str(raw.get("client") or "client"),
        scenario=str(raw.get("scenario") or "(no scenario)"),
        check=str(raw.get("check") or raw.get("check_id") or raw.get("id") or "(unnamed check)"),
        requirements=[str(r) for r in _as_list(reqs) if r is not None and str(r)],
        status=norm_status(raw.get("status")),
        revision=str(raw.get("revision") or ""),
        message=scrub_text(str(raw.get("message") or "")),
        duration_s=_as_float(raw.get("duration_s")),
        severity=str(raw.get("severity") or ""),
        evidence=_entries(raw.get("evidence")),
        highlight=[h for h in (_as_int(x) for x in _as_list(raw.get("highlight"))) if h is not None],
        journal=_entries(raw.get("journal")),
    )


def client_kind(name: str) -> str:
    if name == "reference":
        return "reference"
    if name.startswith("mutant:"):
        return "mutant"
    if name.startswith("cmd:"):
        return "command"
    return "sdk"


@dataclass
class ClientSummary:
    name: str
    idx: int
    kind: str
    counts: dict[str, int]
    verdicts: dict[str, str]  # revision -> worst status over that revision's checks
    mutant_id: str | None = None
    own_checks: int = 0  # checks that cite the mutant's own catalogue id
    killing_checks: list[Check] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def killed(self) -> bool | None:
        if self.mutant_id is None:
            return None
        return bool(self.killing_checks)

    @property
    def anchor(self) -> str:
        return f"c{self.idx}"


@dataclass
class Cell:
    status: str
    counts: dict[str, int]
    href: str


@dataclass
class Row:
    req: str
    kind: str
    title: str


@dataclass
class FailGroup:
    """One failing (client, scenario, revision): its checks, journal and offending entries."""

    idx: int
    client: str
    scenario: str
    revision: str
    checks: list[Check]
    journal: list[dict[str, Any]]
    highlight: set[int]
    warn_highlight: set[int]

    @property
    def anchor(self) -> str:
        return f"f{self.idx}"


@dataclass
class Change:
    client: str
    scenario: str
    check: str
    revision: str
    old: str | None
    new: str | None
    direction: str  # better | worse | changed | new | gone
    anchor: str | None = None


@dataclass
class Report:
    run: dict[str, Any]
    checks: list[Check]
    clients: list[ClientSummary]
    revisions: list[str]
    rows: list[Row]
    cells: dict[tuple[str, str], Cell]
    groups: list[FailGroup]
    counterexamples: list[dict[str, Any]]
    changes: list[Change] | None
    totals: dict[str, int]
    by_client: dict[str, list[Check]]

    @property
    def mutants(self) -> list[ClientSummary]:
        return [c for c in self.clients if c.kind == "mutant"]

    @property
    def mutation_score(self) -> tuple[int, int]:
        m = self.mutants
        return sum(1 for c in m if c.killed), len(m)


def _client_order(run: dict[str, Any], checks: list[Check]) -> list[str]:
    seen: dict[str, None] = {}
    for name in _as_list(run.get("clients")):
        seen.setdefault(str(name), None)
    for c in checks:
        seen.setdefault(c.client, None)
    names = list(seen)
    rank = {"reference": 0, "sdk": 1, "command": 2, "mutant": 3}
    return sorted(names, key=lambda n: (rank[client_kind(n)], names.index(n) if client_kind(n) != "mutant" else 0, n))


def _worst(statuses: dict[str, int]) -> str:
    return min(statuses, key=WORST_ORDER.__getitem__) if statuses else "SKIP"


def build(results: dict[str, Any], baseline: dict[str, Any] | None = None, *, details: bool = True) -> Report:
    """Everything the outputs show. details=False skips the failing-scenario groups and the matrix."""
    run = results.get("run") if isinstance(results.get("run"), dict) else {}
    raw_checks = [c for c in _as_list(results.get("checks")) if isinstance(c, dict)]
    checks = [normalise_check(i, c) for i, c in enumerate(raw_checks)]
    names = _client_order(run, checks)
    by_client: dict[str, list[Check]] = {n: [] for n in names}
    for c in checks:
        by_client[c.client].append(c)

    revisions = [str(r) for r in _as_list(run.get("revisions"))]
    for c in checks:
        if c.revision and c.revision not in revisions:
            revisions.append(c.revision)

    groups = _fail_groups(checks) if details else []
    group_of_check: dict[int, FailGroup] = {c.idx: g for g in groups for c in g.checks}

    clients = []
    for i, name in enumerate(names):
        mine = by_client[name]
        counts = {s: 0 for s in STATUSES}
        per_rev: dict[str, dict[str, int]] = defaultdict(dict)
        for c in mine:
            counts[c.status] += 1
            if c.revision:
                per_rev[c.revision][c.status] = 1
        summary = ClientSummary(name=name, idx=i, kind=client_kind(name), counts=counts,
                                verdicts={r: _worst(per_rev[r]) for r in revisions if r in per_rev})
        mid = mutant_catalogue_id(name)
        if mid:
            summary.mutant_id = mid
            own = [c for c in mine if any(r.startswith(mid) for r in c.requirements)]
            summary.own_checks = len(own)
            summary.killing_checks = [c for c in own if c.status == "FAIL"]
        clients.append(summary)

    rows, cells = _matrix(checks, group_of_check) if details else ([], {})
    totals = {s: sum(cl.counts[s] for cl in clients) for s in STATUSES}
    changes = diff(results, baseline, group_of_check, checks) if baseline is not None else None
    cex = [redact(x) for x in _as_list(results.get("counterexamples")) if isinstance(x, dict)]
    return Report(run=run, checks=checks, clients=clients, revisions=revisions, rows=rows, cells=cells,
                  groups=groups, counterexamples=cex, changes=changes, totals=totals, by_client=by_client)


def _matrix(checks: list[Check], group_of_check: dict[int, FailGroup]
            ) -> tuple[list[Row], dict[tuple[str, str], Cell]]:
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    worst_check: dict[tuple[str, str], Check] = {}
    for c in checks:
        for r in c.requirements:
            key = (r, c.client)
            counts[key][c.status] += 1
            prev = worst_check.get(key)
            if prev is None or WORST_ORDER[c.status] < WORST_ORDER[prev.status]:
                worst_check[key] = c
    reqs = sorted({r for r, _ in counts}, key=lambda r: (KIND_ORDER[kind_of(r)], r))
    rows = [Row(req=r, kind=kind_of(r), title=title_of(r)) for r in reqs]
    cells = {}
    for key, cnt in counts.items():
        wc = worst_check[key]
        group = group_of_check.get(wc.idx)
        href = f"#{group.anchor}" if group is not None else f"#{wc.anchor}"
        cells[key] = Cell(status=_worst(dict(cnt)), counts=dict(cnt), href=href)
    return rows, cells


def _fail_groups(checks: list[Check]) -> list[FailGroup]:
    grouped: dict[tuple[str, str, str], list[Check]] = {}
    for c in checks:
        grouped.setdefault((c.client, c.scenario, c.revision), []).append(c)
    groups = []
    for (client, scenario, revision), members in grouped.items():
        failing = [c for c in members if c.status == "FAIL"]
        if not failing:
            continue
        shown = sorted((c for c in members if c.status in ("FAIL", "WARN")),
                       key=lambda c: (WORST_ORDER[c.status], c.check))
        # the scenario journal when any check carries it; otherwise whatever evidence there is
        with_journal = [c.journal for c in failing if c.journal] or [c.journal for c in members if c.journal]
        journal = redacted(merge_entries(with_journal or [c.evidence for c in failing]))
        hl: set[int] = set()
        for c in failing:
            hl.update(c.highlight or [e.get("seq") for e in c.evidence if _as_int(e.get("seq")) is not None])
        warn_hl = {h for c in members if c.status == "WARN" for h in c.highlight} - hl
        groups.append(FailGroup(idx=len(groups), client=client, scenario=scenario, revision=revision,
                                checks=shown, journal=journal, highlight={int(h) for h in hl},
                                warn_highlight=warn_hl))
    return groups


def merge_entries(sources: Any) -> list[dict[str, Any]]:
    """Union of journal entries from several checks, by seq, in seq order."""
    by_seq: dict[int, dict[str, Any]] = {}
    unnumbered: list[dict[str, Any]] = []
    for entries in sources:
        for e in entries:
            seq = _as_int(e.get("seq"))
            if seq is None:
                unnumbered.append(e)
            else:
                by_seq.setdefault(seq, e)
    return [by_seq[s] for s in sorted(by_seq)] + unnumbered


def diff(results: dict[str, Any], baseline: dict[str, Any], group_of_check: dict[int, FailGroup] | None = None,
         checks: list[Check] | None = None) -> list[Change]:
    """What got better or worse per (client, scenario, check, revision) since the baseline run."""
    if checks is None:
        checks = [normalise_check(i, c) for i, c in enumerate(_as_list(results.get("checks")))
                  if isinstance(c, dict)]
    old_checks = [normalise_check(i, c) for i, c in enumerate(_as_list(baseline.get("checks")))
                  if isinstance(c, dict)]
    new = {c.key: c for c in checks}
    old = {c.key: c for c in old_checks}
    changes = []
    for key, c in new.items():
        o = old.get(key)
        anchor = None
        if group_of_check and c.idx in group_of_check:
            anchor = group_of_check[c.idx].anchor
        elif c.status != "PASS":
            anchor = c.anchor
        if o is None:
            changes.append(Change(*key, old=None, new=c.status, direction="new", anchor=anchor))
        elif o.status != c.status:
            delta = GOODNESS[c.status] - GOODNESS[o.status]
            direction = "better" if delta > 0 else "worse" if delta < 0 else "changed"
            changes.append(Change(*key, old=o.status, new=c.status, direction=direction, anchor=anchor))
    for key, o in old.items():
        if key not in new:
            changes.append(Change(*key, old=o.status, new=None, direction="gone"))
    return changes
