"""The two big tables, built in Python: Jinja per-cell overhead dominates at 15 000 rows.

Every value is escaped with markupsafe.escape (journal and check text are client input).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from .labels import clip, label_of
from .model import Check


def _dur(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def check_rows(checks: list[Check]) -> Markup:
    out = []
    for k in checks:
        out.append(
            f'<tr id="{k.anchor}"><td><span class="badge st-{k.status}">{k.status}</span></td>'
            f"<td>{escape(k.scenario)}</td><td><code>{escape(k.check)}</code></td><td>{escape(k.revision)}</td>"
            f'<td>{escape(" ".join(k.requirements))}</td><td>{escape(k.message)}</td>'
            f'<td class="num">{_dur(k.duration_s)}</td></tr>')
    return Markup("\n".join(out))


def journal_rows(journal: list[dict[str, Any]], highlight: set[int], limit: int = 400) -> Markup:
    out = []
    for e in journal[:limit]:
        cls = ' class="hl"' if e.get("seq") in highlight else ""
        out.append(
            f'<tr{cls}><td>{escape(e.get("seq"))}</td><td>{escape(e.get("kind"))}</td>'
            f'<td>{escape(e.get("actor") or "")}</td><td>{escape(e.get("endpoint") or "")}</td>'
            f"<td>{escape(clip(label_of(e), 140))}</td></tr>")
    if len(journal) > limit:
        out.append(f'<tr><td colspan="5" class="more">… {len(journal) - limit} more</td></tr>')
    return Markup("\n".join(out))
