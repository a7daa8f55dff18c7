"""Fuzz every mock_as endpoint, admin API included, from its own OpenAPI description (the full form).

Starts a MockServer per layout, loads GET /_admin/openapi.json into schemathesis, and runs positive and
negative cases for every operation. Prints the statuses seen and every finding: a 5xx, or a 4xx that is
not an RFC-shaped JSON error. Exit status 1 when there is any finding. The fast form is
tests/robustness/test_fuzz.py (a few examples per operation, derandomized, in CI).

    python bench/fuzz.py [--examples 100] [--layout default --layout issuer_path ...] [--seeded]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_as.knobs import Knobs  # noqa: E402
from mock_as.server import MockServer  # noqa: E402
from tests.robustness.fuzz_support import fuzz  # noqa: E402

LAYOUTS = ("default", "issuer_path", "as_separate_origin", "oidc_only", "prm_root", "legacy_2025_03_26")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=100, help="examples per operation and generation mode")
    ap.add_argument("--layout", action="append", choices=LAYOUTS, help="default: all of them")
    ap.add_argument("--seeded", action="store_true", help="derandomize (the same cases every run)")
    ap.add_argument("--only", default=None, help="operations whose 'METHOD /path' contains this")
    args = ap.parse_args()
    total_cases = total_findings = 0
    for layout in args.layout or LAYOUTS:
        with MockServer(knobs=Knobs(layout=layout, rotate_refresh_tokens=True)) as srv:
            report = fuzz(srv, max_examples=args.examples, derandomize=args.seeded, only=args.only)
        print(f"layout {layout}: {report.summary()}", flush=True)
        for f in report.findings[:50]:
            print(f"  FINDING {f.operation} [{f.mode}] {f.status}: {f.problem}\n    {f.request}\n    {f.body}")
        total_cases += report.cases
        total_findings += len(report.findings)
    print(f"fuzz: {total_cases} cases, {total_findings} findings (5xx or non-RFC-shaped errors)")
    return 1 if total_findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
