from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from typing import Any

from reports.model import build
from reports.render import render
from reports.sample import make_sample
from reports.seqdiag import render_svg

from .conftest import EVIL

NETWORK = re.compile(r"""<script[^>]+src=|<link[^>]+href=["']?https?:|(?:src|href)=["']?(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//""",
                     re.I)


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, re.S)


def test_self_contained(sample: dict[str, Any]) -> None:
    html = render(sample)
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert not NETWORK.search(html)
    assert "<link" not in html
    # the only script is our inline one
    assert len(re.findall(r"<script\b", html)) == 1


def test_matrix_has_requirements_and_clients(sample: dict[str, Any]) -> None:
    html = render(sample)
    assert 'id="mx"' in html
    report = build(sample)
    for req in ("C08", "C14", "MCP-2025-11-25:PKCE-1"):
        assert f"<code>{req}</code>" in html
    assert html.count('class="colh') == len(report.clients)
    # a failing cell links to the failing scenario's details
    cell = report.cells[("C08", "ts-sdk")]
    assert cell.status == "FAIL" and cell.href.startswith("#f")
    assert f'id="{cell.href[1:]}"' in html


def test_every_failing_scenario_has_a_sequence_diagram(sample: dict[str, Any]) -> None:
    html = render(sample)
    report = build(sample)
    assert report.groups
    sections = re.findall(r'<section class="fail" id="(f\d+)">(.*?)</section>', html, re.S)
    assert len(sections) == len(report.groups)
    for _anchor, body in sections:
        assert "<svg" in body
        assert 'class="hl"' in body  # the offending entries are highlighted


def test_svg_is_well_formed_and_highlights_the_right_entries(sample: dict[str, Any]) -> None:
    report = build(sample)
    g = next(g for g in report.groups if g.client.startswith("mutant:C08"))
    svg = str(render_svg(g.journal, g.highlight))
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    hot = [el for el in root.iter(f"{ns}g") if el.get("class") == "hl"]
    assert len(hot) == len(g.highlight)
    texts = ["".join(el.itertext()) for el in hot]
    assert any("reuse_detected" in t for t in texts)
    assert any("invalid_grant" in t for t in texts)
    lanes = [t.text for t in root.iter(f"{ns}text") if t.get("class") == "lh"]
    assert lanes[:3] == ["tab-1", "tab-2", "tab-3"] and lanes[-2].startswith("AS") and lanes[-1].startswith("RS")


def test_rows_never_overlap(sample: dict[str, Any]) -> None:
    report = build(sample)
    for g in report.groups[:10]:
        root = ET.fromstring(str(render_svg(g.journal, g.highlight)))
        ns = "{http://www.w3.org/2000/svg}"
        ys = [float(t.get("y")) for el in root.iter(f"{ns}g") for t in el.iter(f"{ns}text")
              if t.get("class") == "lbl"]
        assert len(ys) == len(set(ys)), "two labels share a row"


def test_long_journal_is_truncated_around_the_highlight() -> None:
    entries = [{"seq": i, "ts": float(i), "kind": "request" if i % 2 else "response", "endpoint": "mcp",
                "actor": "tab-1", "exchange": (i + 1) // 2, "data": {"status": 200}} for i in range(1, 301)]
    svg = str(render_svg(entries, {150}))
    assert "more entries" in svg
    assert "#150" in svg and "#1<" in svg
    assert "#80<" not in svg and "#299<" not in svg
    assert svg.count("<g class=") < 60


def test_escaping_of_client_input(evil_results: dict[str, Any]) -> None:
    html = render(evil_results, baseline=copy.deepcopy(evil_results))
    assert EVIL not in html
    assert "alert(1)" in html  # it is shown, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(re.findall(r"<script\b", html)) == 1
    for svg in _svgs(html):
        ET.fromstring(svg)  # escaped text keeps the SVG well-formed


def test_secrets_never_longer_than_the_prefix(evil_results: dict[str, Any]) -> None:
    html = render(evil_results)
    for secret in ("rtSECRETVALUE0123456789abcdef", "csSECRETVALUE0123456789", "atSECRETVALUE0123456789"):
        assert secret[:9] not in html
    assert "rtSECRET…" in html


def test_secrets_in_free_text_are_cut() -> None:
    entry = {"seq": 1, "kind": "response", "endpoint": "authorize", "data": {
        "status": 302, "location": "http://127.0.0.1:1/cb?state=s&code=CODESECRET123456789",
        "headers": {"Authorization": "Bearer ATSECRET123456789"}, "note": "Bearer ATSECRET123456789"}}
    results = {"checks": [{"client": "x", "scenario": "s", "check": "c", "status": "FAIL", "highlight": [1],
                           "message": "saw code=CODESECRET123456789", "journal": [entry], "evidence": [entry]}]}
    html = render(results)
    assert "CODESECRET1" not in html and "ATSECRET1" not in html
    assert "CODESECR…" in html


def test_tolerates_missing_optional_fields() -> None:
    for results in ({}, {"checks": []}, {"run": None, "checks": [{"client": "x"}]},
                    {"checks": [{"client": "mutant:C08-x", "status": "failed", "requirements": "C08",
                                 "highlight": ["2", None, "x"], "evidence": None, "journal": [None, {"seq": "a"}],
                                 "duration_s": "fast", "revision": None}]}):
        html = render(results)
        assert "<html" in html


def test_mutation_score_uses_the_mutants_own_catalogue_id() -> None:
    def row(client: str, reqs: list[str], status: str) -> dict[str, Any]:
        return {"client": client, "scenario": "s", "check": "c" + "".join(reqs), "requirements": reqs,
                "status": status}

    results = {"checks": [row("mutant:C08-a", ["C08"], "FAIL"), row("mutant:C09-b", ["C08"], "FAIL"),
                          row("mutant:C09-b", ["C09"], "PASS"), row("reference", ["C08"], "PASS")]}
    report = build(results)
    assert report.mutation_score == (1, 2)
    by = {c.name: c for c in report.clients}
    assert by["mutant:C08-a"].killed and not by["mutant:C09-b"].killed
    html = render(results)
    assert "1/2" in html and "SURVIVED" in html and "KILLED" in html


def test_baseline_comparison(sample: dict[str, Any]) -> None:
    base = copy.deepcopy(sample)
    now = copy.deepcopy(sample)
    worse = next(c for c in now["checks"] if c["client"] == "reference" and c["status"] == "PASS")
    worse["status"] = "FAIL"
    better = next(c for c in now["checks"] if c["client"] == "ts-sdk" and c["status"] == "FAIL")
    better["status"] = "PASS"
    now["checks"].append({"client": "reference", "scenario": "new/one", "check": "NEW.check", "status": "PASS"})
    report = build(now, base)
    dirs = {(c.client, c.check, c.direction) for c in report.changes or []}
    assert ("reference", worse["check"], "worse") in dirs
    assert ("ts-sdk", better["check"], "better") in dirs
    assert ("reference", "NEW.check", "new") in dirs
    html = render(now, base)
    assert 'id="changes"' in html and "Got worse" in html and "Got better" in html
    assert 'id="changes"' not in render(now)


def test_counterexamples_are_numbered_interleavings(sample: dict[str, Any]) -> None:
    html = render(make_sample(12, 60, 1))
    assert 'id="counterexamples"' in html
    assert '<ol class="steps">' in html
    assert "<li>tab-1 opens a session and calls echo</li>" in html  # "1. " prefix becomes the <ol> number


def test_readable_without_javascript(sample: dict[str, Any]) -> None:
    html = render(sample)
    no_js = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    assert 'id="mx"' in no_js and "<svg" in no_js
    assert '<html lang="en" class="nojs">' in html  # filters stay hidden until the script runs
