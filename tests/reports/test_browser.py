"""Open the rendered report in headless chromium: the DOM has the matrix and the diagrams, no console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reports.render import render

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"),
]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           *args], capture_output=True, text=True, timeout=90)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_report_in_headless_chromium(tmp_path: Path, sample: dict[str, Any]) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(sample), encoding="utf-8")
    r = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = r.stdout
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'id="mx"' in dom and 'class="mx"' in dom, "matrix missing from the DOM"
    assert re.search(r'<section class="fail" id="f\d+">.*?<svg', dom, re.S), "no sequence diagram in the DOM"
    assert re.search(r'<html[^>]*class="js"', dom), "inline script did not run"
    assert console_errors(r.stderr) == []


def test_failing_diagram_screenshot(tmp_path: Path, sample: dict[str, Any]) -> None:
    one = [c for c in sample["checks"] if c["client"].startswith("mutant:C08") and c["revision"] == "2025-11-25"]
    assert any(c["status"] == "FAIL" for c in one)
    page = tmp_path / "report.html"
    page.write_text(render({"run": sample["run"] | {"clients": [one[0]["client"]]}, "checks": one}), encoding="utf-8")
    shot = tmp_path / "shot.png"
    r = chromium(tmp_path, "--window-size=1300,4000", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 60_000, "screenshot looks blank"
    assert console_errors(r.stderr) == []
