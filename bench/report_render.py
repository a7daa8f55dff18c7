"""Benchmark: render a 50-client x 300-check results.json to HTML and print the seconds (target < 5 s).

    python bench/report_render.py [--clients 50] [--checks 300] [--seed 0] [-o out.html]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports.junit import write_junit  # noqa: E402
from reports.model import load  # noqa: E402
from reports.render import render  # noqa: E402
from reports.sample import make_sample  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--checks", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "results.json"
        src.write_text(json.dumps(make_sample(args.clients, args.checks, args.seed)), encoding="utf-8")
        out = args.output or Path(tmp) / "report.html"
        t0, c0 = time.perf_counter(), time.process_time()
        results = load(src)
        html = render(results)
        out.write_text(html, encoding="utf-8")
        t1, c1 = time.perf_counter(), time.process_time()
        write_junit(results, Path(tmp) / "junit.xml")
        t2 = time.perf_counter()
        n = len(results["checks"])
        print(f"{args.clients} clients x {args.checks} checks = {n} checks "
              f"(results.json {src.stat().st_size / 1e6:.1f} MB, HTML {len(html.encode()) / 1e6:.1f} MB)")
        print(f"render (load + HTML + write): {t1 - t0:.2f} s wall, {c1 - c0:.2f} s CPU (target < 5 s)")
        print(f"junit: {t2 - t1:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
