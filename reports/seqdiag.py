"""A scenario's journal as an inline SVG sequence diagram.

Lanes: one per client actor (tab / replica, from entry.actor), then the AS, then the RS. Requests are solid
arrows client -> server, responses dashed arrows back, domain events notes on the server lane, harness
events a band across all lanes. One row per entry, so nothing overlaps. Offending entries (the checks'
`highlight` seqs) are drawn in red and bold on a tinted band. Long journals keep windows around the
highlighted entries and replace the rest with '… N more entries'.

Every piece of text goes through markupsafe.escape: journal content is client input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from .labels import ALARM_EVENTS, clip, detail_of, label_of, lane_of

CHAR_W = 7.3  # px per character of 12px monospace (DejaVu Sans Mono / Menlo are ~0.6em)
ROW_H = 30
HEAD_H = 44
GUTTER = 92
LANE_MIN_GAP = 240
LANE_MAX_GAP = 400
CLIENT_GAP = 130
SERVER_GAP = 230
MARGIN_R = 150
ACTOR_COLOURS = ("#2563eb", "#7c3aed", "#0f766e", "#a16207", "#0e7490", "#4d7c0f", "#6d28d9", "#1d4ed8")
RED = "#dc2626"
AMBER = "#d97706"

SVG_STYLE = """
.sq text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12px}
.sq .lh{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:13px;font-weight:600}
.sq .g{fill:#6b7280;font-size:11px}
.sq .lbl{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
.sq .hl .lbl{font-weight:700;fill:#b91c1c}
.sq .hlw .lbl{font-weight:700;fill:#b45309}
.sq .more{fill:#6b7280;font-style:italic}
"""


@dataclass
class Lane:
    name: str
    x: float
    colour: str
    kind: str  # client | AS | RS


def _seq(e: dict[str, Any]) -> int | None:
    try:
        return int(e.get("seq"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def select_rows(entries: list[dict[str, Any]], highlight: set[int], max_rows: int = 48,
                context: int = 5) -> list[dict[str, Any] | int]:
    """Entries to draw, with ints standing for '… N more entries' gaps."""
    n = len(entries)
    if n <= max_rows:
        return list(entries)
    marks = [i for i, e in enumerate(entries) if _seq(e) in highlight]
    keep: set[int] = set()
    if marks:
        for i in marks:
            if len(keep) >= max_rows:
                break
            keep.update(range(max(0, i - context), min(n, i + context + 1)))
        # the opening exchange gives the reader their bearings
        keep.update(range(min(2, n)))
    else:
        keep.update(range(max_rows))
    out: list[dict[str, Any] | int] = []
    skipped = 0
    for i, e in enumerate(entries):
        if i in keep:
            if skipped:
                out.append(skipped)
                skipped = 0
            out.append(e)
        else:
            skipped += 1
    if skipped:
        out.append(skipped)
    return out


def _natural(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _actors(entries: Iterable[dict[str, Any]]) -> list[str]:
    seen: set[str] = set()
    for e in entries:
        if e.get("kind") in ("request", "response"):
            seen.add(str(e.get("actor") or "client"))
    return sorted(seen, key=_natural) or ["client"]


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def render_svg(entries: list[dict[str, Any]], highlight: set[int] | None = None,
               warn: set[int] | None = None, *, title: str = "", max_rows: int = 48,
               standalone: bool = False) -> Markup:
    highlight = highlight or set()
    warn = warn or set()
    # responses inherit the actor of their request (same exchange id)
    actor_of_exchange: dict[Any, str] = {}
    for e in entries:
        if e.get("kind") == "request" and e.get("exchange") is not None and e.get("actor"):
            actor_of_exchange[e["exchange"]] = str(e["actor"])

    def actor(e: dict[str, Any]) -> str:
        return str(e.get("actor") or actor_of_exchange.get(e.get("exchange")) or "client")

    rows = select_rows(entries, highlight, max_rows=max_rows)
    drawn = [r for r in rows if isinstance(r, dict)]
    actors = _actors({**e, "actor": actor(e)} for e in drawn)
    labels = {id(e): label_of(e) for e in drawn}
    # Tabs sit close together; the gap from the last tab to the AS carries the arrow labels
    # (arrows to the RS also span the AS-RS gap).
    need = 0.0
    for e in drawn:
        if e.get("kind") in ("request", "response"):
            width_needed = len(labels[id(e)]) * CHAR_W + 30
            need = max(need, width_needed - (SERVER_GAP if lane_of(e) == "RS" else 0))
    gap = min(LANE_MAX_GAP, max(LANE_MIN_GAP, need))
    lanes: dict[str, Lane] = {}
    x = GUTTER + 70.0
    for i, name in enumerate(actors):
        lanes[name] = Lane(name=name, x=x, colour=ACTOR_COLOURS[i % len(ACTOR_COLOURS)], kind="client")
        x += CLIENT_GAP
    x += gap - CLIENT_GAP
    lanes["\0AS"] = Lane(name="AS", x=x, colour="#374151", kind="AS")
    x += SERVER_GAP
    lanes["\0RS"] = Lane(name="RS", x=x, colour="#374151", kind="RS")
    width = x + MARGIN_R
    height = HEAD_H + ROW_H * len(rows) + 28
    first_ts = next((e.get("ts") for e in drawn if isinstance(e.get("ts"), int | float)), None)

    out: list[str] = []
    add = out.append
    add(f'<svg xmlns="http://www.w3.org/2000/svg" class="sq" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" role="img" aria-label="{escape(title or "sequence diagram")}">')
    if standalone:
        add(f"<style>{SVG_STYLE}</style>")
    if title:
        add(f"<title>{escape(title)}</title>")
    add(f'<rect x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="#fff"/>')
    # highlight bands first, so lifelines and arrows sit on top
    y = HEAD_H
    for r in rows:
        if isinstance(r, dict) and (_seq(r) in highlight or _seq(r) in warn):
            fill = "#fee2e2" if _seq(r) in highlight else "#fef3c7"
            add(f'<rect x="4" y="{y + 2}" width="{_num(width - 8)}" height="{ROW_H - 3}" rx="4" fill="{fill}"/>')
        y += ROW_H
    # lifelines and lane heads
    for lane in lanes.values():
        add(f'<line x1="{_num(lane.x)}" y1="{HEAD_H - 8}" x2="{_num(lane.x)}" y2="{height - 10}" '
            f'stroke="#cbd5e1" stroke-width="1.5" stroke-dasharray="3 4"/>')
        label = lane.name if lane.kind == "client" else ("AS  (authorization)" if lane.name == "AS"
                                                         else "RS  (MCP server)")
        w = max(70, len(clip(label, 24)) * 8.2 + 20)
        fill = "#eff6ff" if lane.kind == "client" else "#f3f4f6"
        add(f'<rect x="{_num(lane.x - w / 2)}" y="6" width="{_num(w)}" height="26" rx="6" fill="{fill}" '
            f'stroke="{lane.colour}" stroke-width="1.2"/>')
        add(f'<text class="lh" x="{_num(lane.x)}" y="24" text-anchor="middle" fill="{lane.colour}">'
            f"{escape(clip(label, 24))}</text>")

    y = HEAD_H
    for r in rows:
        if isinstance(r, int):
            add(f'<text class="more" x="{_num(width / 2)}" y="{y + 19}" text-anchor="middle">'
                f"… {r} more {'entry' if r == 1 else 'entries'} …</text>")
            y += ROW_H
            continue
        _row(add, r, y, lanes, labels[id(r)], actor(r), highlight, warn, first_ts, width, gap)
        y += ROW_H
    add("</svg>")
    return Markup("".join(out))


def _row(add: Any, e: dict[str, Any], y: float, lanes: dict[str, Lane], label: str, who: str,
         highlight: set[int], warn: set[int], first_ts: Any, width: float, gap: float) -> None:
    seq = _seq(e)
    hot = seq in highlight
    warm = (not hot) and seq in warn
    cls = "hl" if hot else "hlw" if warm else "r"
    add(f'<g class="{cls}">')
    add(f"<title>{escape(detail_of(e))}</title>")
    ts = e.get("ts")
    rel = f"{ts - first_ts:+.2f}s" if isinstance(ts, int | float) and isinstance(first_ts, int | float) else ""
    mark = "▶ " if hot or warm else ""
    bold = f' font-weight="700" fill="{RED}"' if hot else ""
    add(f'<text class="g" x="10" y="{y + 14}"{bold}>{escape(mark)}#{escape(seq if seq is not None else "?")}</text>')
    if rel:
        add(f'<text class="g" x="10" y="{y + 26}" font-size="10">{escape(rel)}</text>')
    kind = e.get("kind")
    server_key = "\0" + ("RS" if lane_of(e) == "RS" else "AS")
    if kind in ("request", "response") and who in lanes:
        c = lanes[who]
        s = lanes[server_key]
        x1, x2 = (c.x, s.x) if kind == "request" else (s.x, c.x)
        colour = RED if hot else AMBER if warm else c.colour
        sw = 2.6 if hot or warm else 1.5
        ay = y + 22
        dash = ' stroke-dasharray="6 4"' if kind == "response" else ""
        direction = 1 if x2 > x1 else -1
        add(f'<line x1="{_num(x1)}" y1="{ay}" x2="{_num(x2 - direction * 8)}" y2="{ay}" stroke="{colour}" '
            f'stroke-width="{sw}"{dash}/>')
        add(f'<polygon points="{_num(x2)},{ay} {_num(x2 - direction * 10)},{ay - 5} '
            f'{_num(x2 - direction * 10)},{ay + 5}" fill="{colour}"/>')
        span = abs(x2 - x1) - 20
        text = clip(label, max(8, int(span / CHAR_W)))
        lx = min(x1, x2) + 10
        fill = "" if hot or warm else f' fill="{"#111827" if kind == "request" else "#374151"}"'
        add(f'<text class="lbl" x="{_num(lx)}" y="{y + 16}"{fill}>{escape(text)}</text>')
    else:
        is_harness = lane_of(e) == "harness"
        alarm = kind in ALARM_EVENTS
        text = clip(label, int((SERVER_GAP * 1.5) / CHAR_W)) if not is_harness else clip(label, 90)
        w = len(text) * CHAR_W + 18
        if is_harness:
            cx = (min(lane.x for lane in lanes.values()) + max(lane.x for lane in lanes.values())) / 2
        else:
            cx = lanes[server_key].x
        left = max(GUTTER - 10, min(cx - w / 2, width - w - 8))
        stroke = RED if hot else AMBER if (warm or alarm) else "#9ca3af"
        fill = "#fff1f2" if hot else "#fffbeb" if (warm or alarm) else "#f9fafb"
        sw = 2 if hot else 1.2
        add(f'<rect x="{_num(left)}" y="{y + 5}" width="{_num(w)}" height="{ROW_H - 9}" rx="{10 if is_harness else 3}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>')
        tfill = "" if hot or warm else f' fill="{"#92400e" if alarm else "#374151"}"'
        add(f'<text class="lbl" x="{_num(left + 9)}" y="{y + 20}"{tfill} style="stroke:{fill}">'
            f"{escape(text)}</text>")
    add("</g>")
