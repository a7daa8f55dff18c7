"""Load: N concurrent OAuth flows and M concurrent refreshes against one mock server, then an audit of the
journal and the AS state (every code redeemed at most once, every rotation accounted for, nothing lost).

    python bench/load.py [--flows 200] [--refreshes 1000] [--repeat 1]

Prints the timings and the outcome counts; exit status 1 when the audit finds any problem. The fast form
is tests/robustness/test_load.py (20 flows / 100 refreshes). The audit is tests/robustness/load_support.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_as.server import MockServer  # noqa: E402
from tests.robustness.load_support import LOAD_KNOBS, describe, run_load  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=200)
    ap.add_argument("--refreshes", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    failures = 0
    for n in range(args.repeat):
        t0 = time.perf_counter()
        with MockServer(knobs=LOAD_KNOBS) as srv:
            run, problems = run_load(srv, args.flows, args.refreshes)
            entries = len(srv.journal)
        print(f"run {n + 1}: {describe(run)}; journal {entries} entries; {time.perf_counter() - t0:.1f} s total")
        print("  audit: " + ("consistent (seq contiguous, request/response paired, statuses match, codes "
                             "redeemed at most once, every refresh rotated/reuse/refused)" if not problems
                             else f"{len(problems)} PROBLEMS"))
        for p in problems:
            print("   - " + p)
        failures += bool(problems)
    print(f"load: {args.repeat - failures}/{args.repeat} runs consistent")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
