"""results.json -> JUnit XML: one <testsuite> per client, one <testcase> per (client, scenario, check, revision).

FAIL -> <failure>, SKIP -> <skipped>, WARN and INFO pass with the status in <system-out> and a property,
so CI stays green on a SHOULD but the reason is one click away.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .labels import label_of
from .model import build, redacted

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: Any) -> str:
    """Text XML 1.0 can carry (ElementTree escapes markup but not control characters)."""
    return _BAD_XML.sub("\ufffd", "" if text is None else str(text))


def junit_tree(results: dict[str, Any]) -> ET.ElementTree:
    report = build(results, details=False)
    root = ET.Element("testsuites", name="mcp-oauth-conformance")
    totals = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
    for client in report.clients:
        checks = report.by_client[client.name]
        suite_time = sum(c.duration_s or 0.0 for c in checks)
        suite = ET.SubElement(root, "testsuite", name=_x(client.name), tests=str(len(checks)),
                              failures=str(client.counts["FAIL"]), errors="0",
                              skipped=str(client.counts["SKIP"]), time=f"{suite_time:.3f}")
        if report.run.get("started"):
            suite.set("timestamp", _x(report.run["started"]))
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="client.kind", value=client.kind)
        if client.mutant_id:
            ET.SubElement(props, "property", name="mutant.killed", value=str(bool(client.killed)).lower())
        for c in checks:
            name = c.check + (f" [{c.revision}]" if c.revision else "")
            case = ET.SubElement(suite, "testcase", classname=_x(f"{c.client}.{c.scenario}"), name=_x(name),
                                 time=f"{c.duration_s or 0.0:.3f}")
            cprops = ET.SubElement(case, "properties")
            for req in c.requirements:
                ET.SubElement(cprops, "property", name="requirement", value=_x(req))
            if c.severity:
                ET.SubElement(cprops, "property", name="severity", value=_x(c.severity))
            ET.SubElement(cprops, "property", name="status", value=c.status)
            if c.status == "FAIL":
                fail = ET.SubElement(case, "failure", message=_x(c.message or "check failed"), type="FAIL")
                evidence = [f"#{e.get('seq')} {label_of(e)}" for e in redacted(c.evidence)
                            if not c.highlight or e.get("seq") in c.highlight]
                fail.text = _x("\n".join([c.message, *evidence]))
            elif c.status == "SKIP":
                ET.SubElement(case, "skipped", message=_x(c.message or "skipped"))
            elif c.status in ("WARN", "INFO"):
                out = ET.SubElement(case, "system-out")
                out.text = _x(f"{c.status}: {c.message}")
        totals["tests"] += len(checks)
        totals["failures"] += client.counts["FAIL"]
        totals["skipped"] += client.counts["SKIP"]
        totals["time"] += suite_time
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("skipped", str(totals["skipped"]))
    root.set("errors", "0")
    root.set("time", f"{totals['time']:.3f}")
    return ET.ElementTree(root)


def write_junit(results: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_tree(results)
    ET.indent(tree, space=" ")
    tree.write(p, encoding="utf-8", xml_declaration=True)
    return p
