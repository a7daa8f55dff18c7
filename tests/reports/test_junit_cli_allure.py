from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from reports.allure import labels_for
from reports.junit import write_junit

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd or ROOT,
                          timeout=120)


def test_junit_parses_and_counts(tmp_path: Path, sample: dict[str, Any], evil_results: dict[str, Any]) -> None:
    path = write_junit(sample, tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(sample["checks"])
    fails = sum(1 for c in sample["checks"] if c["status"] == "FAIL")
    skips = sum(1 for c in sample["checks"] if c["status"] == "SKIP")
    assert len(root.findall("./testsuite/testcase/failure")) == fails == int(root.get("failures"))
    assert len(root.findall("./testsuite/testcase/skipped")) == skips
    evil = write_junit(evil_results, tmp_path / "evil.xml")
    assert ET.parse(evil).getroot().find("./testsuite/testcase/failure") is not None


def test_cli_render_summary_and_errors(tmp_path: Path, sample: dict[str, Any]) -> None:
    src = tmp_path / "results.json"
    src.write_text(json.dumps(sample))
    out = tmp_path / "out" / "report.html"
    r = _run("-m", "reports", "render", str(src), "-o", str(out), "--junit", str(tmp_path / "j.xml"),
             "--baseline", str(src))
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("<!DOCTYPE html>") and (tmp_path / "j.xml").is_file()
    s = _run("-m", "reports", "summary", str(src))
    assert s.returncode == 0 and "mutation score" in s.stdout and "reference" in s.stdout
    assert len(s.stdout.splitlines()) < 50

    missing = _run("-m", "reports", "render", str(tmp_path / "nope.json"), "-o", str(out))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    invalid = _run("-m", "reports", "summary", str(bad))
    assert invalid.returncode == 2 and "not valid JSON" in invalid.stderr and invalid.stderr.count("\n") == 1
    bad.write_text('"a string"')
    wrong = _run("-m", "reports", "summary", str(bad))
    assert wrong.returncode == 2 and "not a results.json" in wrong.stderr


def test_allure_labels_pure() -> None:
    labels = labels_for("mutant:C08-no-refresh-singleflight", ["RFC6749-6", "MCP-2025-11-25:TOK-1"], "critical",
                        scenario="refresh/mid_session_401_burst", check="C08.x", revision="2025-11-25")
    assert ("client", "mutant:C08-no-refresh-singleflight") in labels
    assert ("catalogue_id", "C08") in labels
    assert ("requirement", "MCP-2025-11-25:TOK-1") in labels
    assert ("severity", "critical") in labels


def test_allure_labels_reach_allure_results(tmp_path: Path) -> None:
    test = tmp_path / "test_labelled.py"
    test.write_text(textwrap.dedent("""
        from reports import allure as rallure

        def test_one():
            rallure.label_check("mutant:C08-x", ["C08", "RFC6749-6"], "critical",
                                scenario="refresh/burst", check="C08.single", revision="2025-11-25")
            rallure.attach_verdict({"client": "mutant:C08-x", "scenario": "refresh/burst", "status": "FAIL",
                                    "message": "twice", "highlight": [1],
                                    "evidence": [{"seq": 1, "kind": "reuse_detected", "endpoint": "token",
                                                  "data": {"refresh_token": "rtLONGSECRETVALUE"}}]})
    """))
    r = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", f"--alluredir={tmp_path / 'ar'}",
             str(test), "--rootdir", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(next((tmp_path / "ar").glob("*-result.json")).read_text())
    labels = {(x["name"], x["value"]) for x in result["labels"]}
    assert {("client", "mutant:C08-x"), ("catalogue_id", "C08"), ("requirement", "RFC6749-6"),
            ("severity", "critical")} <= labels
    names = {a["name"] for a in result.get("attachments", [])}
    assert {"verdict", "evidence", "sequence diagram"} <= names
    assert "rtLONGSECRETVALUE" not in "".join(p.read_text() for p in (tmp_path / "ar").glob("*attachment*"))
