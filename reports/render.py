"""results.json -> one self-contained HTML file (inline CSS, inline SVG, optional inline JS)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined
from markupsafe import Markup

from .catalogue import CATALOGUE
from .labels import clip, detail_of, label_of
from .model import STATUSES, Report, build
from .seqdiag import SVG_STYLE, render_svg
from .tables import check_rows, journal_rows

VERDICT = {"FAIL": "non-conformant", "WARN": "conformant, with warnings", "PASS": "conformant",
           "INFO": "conformant", "SKIP": "not applicable"}
VERDICT_SHORT = {"FAIL": "fails", "WARN": "warns", "PASS": "ok", "INFO": "ok", "SKIP": "n/a"}
SYMBOL = {"FAIL": "✖", "WARN": "!", "PASS": "✔", "INFO": "i", "SKIP": "–"}


def _asset(name: str) -> str:
    return resources.files("reports").joinpath("templates", name).read_text(encoding="utf-8")


@cache
def _env() -> Environment:
    env = Environment(loader=FunctionLoader(_asset), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["clip"] = clip
    env.filters["dur"] = _duration
    env.filters["replace_num"] = lambda s: re.sub(r"^\s*\d+[.)]\s+", "", str(s))
    env.globals.update(VERDICT=VERDICT, VERDICT_SHORT=VERDICT_SHORT, CATALOGUE=CATALOGUE, SYMBOL=SYMBOL, STATUSES=STATUSES, label_of=label_of, detail_of=detail_of,
                       check_rows=check_rows, journal_rows=journal_rows)
    return env


def _duration(v: Any) -> str:
    if not isinstance(v, int | float):
        return ""
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _run_duration(run: dict[str, Any]) -> str:
    try:
        a = datetime.fromisoformat(str(run["started"]))
        b = datetime.fromisoformat(str(run["finished"]))
    except (KeyError, ValueError, TypeError):
        return ""
    return _duration((b - a).total_seconds())


def render(results: dict[str, Any], baseline: dict[str, Any] | None = None, *, title: str | None = None,
           max_rows: int = 48) -> str:
    """The whole report as one HTML string. `baseline` adds a better/worse comparison."""
    report: Report = build(results, baseline)
    diagrams = {g.idx: render_svg(g.journal, g.highlight, g.warn_highlight, max_rows=max_rows,
                                  title=f"{g.client} · {g.scenario}") for g in report.groups}
    groups_by_client: dict[str, list[Any]] = {}
    for g in report.groups:
        groups_by_client.setdefault(g.client, []).append(g)
    row_anchor = {r.req: f"r{i}" for i, r in enumerate(report.rows)}
    changes = report.changes
    change_counts = None
    if changes is not None:
        change_counts = {d: sum(1 for c in changes if c.direction == d)
                         for d in ("worse", "better", "changed", "new", "gone")}
    tpl = _env().get_template("report.html.j2")
    return tpl.render(
        r=report, run=report.run, title=title or "MCP OAuth conformance report",
        run_duration=_run_duration(report.run), diagrams=diagrams, groups_by_client=groups_by_client,
        row_anchor=row_anchor, change_counts=change_counts, baseline_run=(baseline or {}).get("run") or {},
        css=Markup(_asset("report.css") + SVG_STYLE), js=Markup(_asset("report.js")),
        open_failures=len(report.groups) <= 60,
    )
