"""results.json: collected per process, merged across xdist workers by the controller.

Each worker writes ``<parts_dir>/<workerid>.json`` at session end; the controller (or the single process
without xdist) merges its own rows with every part and writes the file. Schema (consumed by reports/ and
../shared/acceptance/results.py)::

    {"run": {versions, clients, revisions, store, store_effective, notes, knobs: {scenario: knobs},
             seed, command_line, started, finished, workers, expected_failures},
     "checks": [{client, scenario, check, requirements, status, revision, message, duration_s, severity,
                 evidence, highlight, journal, ...}],
     "counterexamples": []}
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist, key in (("mcp", "mcp"), ("mcp-oauth-conformance", "harness"), ("pytest", "pytest"),
                      ("httpx", "httpx"), ("hypothesis", "hypothesis")):
        with contextlib.suppress(PackageNotFoundError):
            out[key] = version(dist)
    return out


@dataclass
class Collector:
    rows: list[dict[str, Any]] = field(default_factory=list)
    knobs: dict[str, Any] = field(default_factory=dict)
    counterexamples: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expectations_used: list[list[str]] = field(default_factory=list)

    def add(self, rows: list[dict[str, Any]], knobs: dict[str, Any] | None = None, scenario: str = "") -> None:
        self.rows.extend(rows)
        if scenario:
            self.knobs[scenario] = knobs or {}
        for r in rows:
            for n in r.get("notes") or []:
                if n not in self.notes:
                    self.notes.append(n)

    def part(self) -> dict[str, Any]:
        return {"checks": self.rows, "knobs": self.knobs, "counterexamples": self.counterexamples,
                "notes": self.notes, "expectations_used": self.expectations_used}

    def write_part(self, parts_dir: str | Path, name: str) -> Path:
        p = Path(parts_dir) / f"{name}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.part(), default=str))
        os.replace(tmp, p)
        return p

    def merge_parts(self, parts_dir: str | Path) -> None:
        d = Path(parts_dir)
        for p in sorted(d.glob("*.json")) if d.is_dir() else []:
            data = json.loads(p.read_text())
            self.rows.extend(data.get("checks") or [])
            self.knobs.update(data.get("knobs") or {})
            self.counterexamples.extend(data.get("counterexamples") or [])
            for n in data.get("notes") or []:
                if n not in self.notes:
                    self.notes.append(n)
            self.expectations_used.extend(data.get("expectations_used") or [])


def write_results(path: str | Path, run: dict[str, Any], collector: Collector) -> Path:
    rows = sorted(collector.rows, key=lambda r: (r.get("client", ""), r.get("scenario", ""),
                                                r.get("revision", ""), r.get("check", "")))
    doc = {"run": {**run, "knobs": collector.knobs, "notes": collector.notes, "finished": _now()},
           "checks": rows, "counterexamples": collector.counterexamples}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str, ensure_ascii=False))
    os.replace(tmp, p)
    return p


def run_record(*, clients: list[str], revisions: list[str], store: str, store_effective: str, seed: Any,
               expected_failures: str | None, workers: int) -> dict[str, Any]:
    return {"versions": versions(), "clients": clients, "revisions": revisions, "store": store,
            "store_effective": store_effective, "seed": seed, "command_line": " ".join(sys.argv),
            "cwd": os.getcwd(), "started": _now(), "workers": workers, "expected_failures": expected_failures}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def summarize(rows: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.get("status", "?")] = counts.get(r.get("status", "?"), 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no checks"
