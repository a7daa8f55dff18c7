"""A one-screen text summary of a results.json: per client counts, mutation score, where to look."""

from __future__ import annotations

from typing import Any

from .model import build

_W = 44


def _name(n: str) -> str:
    return n if len(n) <= _W else n[: _W - 1] + "…"


def summary_text(results: dict[str, Any], path: str = "", html: str | None = None) -> str:
    r = build(results)  # groups are counted below
    lines = []
    head = f"results: {path}" if path else "results"
    started = r.run.get("started")
    lines.append(head + (f"  (started {started})" if started else ""))
    counts = ", ".join(f"{r.totals[s]} {s}" for s in ("PASS", "FAIL", "WARN", "SKIP", "INFO") if r.totals[s])
    lines.append(f"{len(r.clients)} clients, {len(r.checks)} checks" + (f": {counts}" if counts else ""))
    lines.append("")
    lines.append(f"{'client':<{_W}}  {'pass':>5} {'fail':>5} {'warn':>5} {'skip':>5}  verdict / mutant")
    for c in r.clients:
        cnt = c.counts
        if c.mutant_id:
            note = (f"KILLED ({len(c.killing_checks)}/{c.own_checks} {c.mutant_id} checks)" if c.killed
                    else f"SURVIVED ({c.own_checks} {c.mutant_id} checks, none failed)")
        else:
            bad = [rev for rev, st in c.verdicts.items() if st == "FAIL"]
            note = ("non-conformant: " + ", ".join(bad)) if bad else ("conformant" if c.total else "no checks")
        lines.append(f"{_name(c.name):<{_W}}  {cnt['PASS']:>5} {cnt['FAIL']:>5} {cnt['WARN']:>5} "
                     f"{cnt['SKIP']:>5}  {note}")
    if r.mutants:
        killed, total = r.mutation_score
        ids = {m.mutant_id for m in r.mutants}
        lines.append("")
        lines.append(f"mutation score {killed}/{total} mutants killed by their own catalogue check; "
                     f"catalogue ids covered {len(ids)}/26")
        survived = [m.name for m in r.mutants if not m.killed]
        if survived:
            lines.append("survived: " + ", ".join(survived))
    if r.groups:
        lines.append(f"{len(r.groups)} failing scenario runs" + (f"; details: {html}" if html else ""))
    elif html:
        lines.append(f"report: {html}")
    return "\n".join(lines)
