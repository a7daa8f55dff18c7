"""Time-to-detection of the race machines (suites/properties) for the race mutants.

For each mutant and machine: how many hypothesis examples, and how many seconds, until the first
failing example (before shrinking), then the total with shrinking, and the invariant that broke. The
machines are never told which mutant they face. ``--profile`` picks the hypothesis profile (root
conftest.py); ``--examples`` caps the search per machine.

    .venv/bin/python bench/property_detection.py                       # the 9 race mutants, ci profile
    .venv/bin/python bench/property_detection.py --profile dev --examples 60 C10-clear-on-invalid-grant
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RACE_MUTANTS = ("C01-register-per-flow", "C02-verifier-per-key", "C08-no-refresh-singleflight",
                "C09-process-local-lock", "C10-clear-on-invalid-grant", "C12-rotated-rt-not-persisted",
                "C13-drops-rt-when-omitted", "C14-interactive-on-401", "C17-cached-access-token")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mutants", nargs="*", help="mutant names (default: the 9 race mutants)")
    ap.add_argument("--profile", default="ci", help="hypothesis profile: ci, dev or deep (default ci)")
    ap.add_argument("--examples", type=int, default=None, help="max examples per machine (default: profile budget)")
    ap.add_argument("--story", action="store_true", help="print each shrunk counterexample")
    args = ap.parse_args(argv)

    from hypothesis import settings

    import conftest  # noqa: F401 - registers the hypothesis profiles
    from client_under_test.adapters.registry import resolve
    from suites.properties.machines import MACHINES
    from suites.properties.runner import machine_settings, run_machine

    settings.load_profile(args.profile)
    os.environ.setdefault("HYPOTHESIS_PROFILE", args.profile)
    overrides = {"max_examples": args.examples} if args.examples else {}
    names = args.mutants or list(RACE_MUTANTS)
    rows = []
    print(f"profile {args.profile}; budget per machine: " + ", ".join(
        f"{m.__name__} {machine_settings(m, **overrides).max_examples} examples x "
        f"{machine_settings(m, **overrides).stateful_step_count} steps" for m in MACHINES), flush=True)
    for name in names:
        adapter = resolve([f"mutant:{name}"])[0]
        best = None
        for machine in MACHINES:
            r = run_machine(machine, adapter, settings_=machine_settings(machine, **overrides))
            rows.append((name, machine.__name__, r))
            ff = f"{r.first_failure[0]} ex / {r.first_failure[1]:.1f} s" if r.first_failure else "not found"
            inv = r.violation.invariant if r.violation else "-"
            print(f"  {name:32} {machine.__name__:16} first failure: {ff:20} total {r.examples:4} ex "
                  f"{r.seconds:6.1f} s  {inv}", flush=True)
            if args.story and r.violation is not None:
                print(str(r.violation), flush=True)
            if r.first_failure and (best is None or r.first_failure[1] < best[1]):
                best = r.first_failure
    print()
    print(f"{'mutant':32} | {'machine':16} | {'examples to 1st failure':>23} | {'seconds to 1st failure':>22} | "
          f"{'with shrinking (ex / s)':>23} | invariant")
    print("-" * 150)
    for name, machine, r in rows:
        ex = str(r.first_failure[0]) if r.first_failure else "—"
        sec = f"{r.first_failure[1]:.1f}" if r.first_failure else "—"
        print(f"{name:32} | {machine:16} | {ex:>23} | {sec:>22} | {f'{r.examples} / {r.seconds:.1f}':>23} | "
              f"{r.violation.invariant if r.violation else 'not detected'}")
    found = {n for n, _, r in rows if r.violation is not None}
    print(f"\ndetected {len(found)}/{len(names)} mutants: missing {sorted(set(names) - found) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
