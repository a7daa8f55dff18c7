"""Parity of the in-process reference client and the same client through the cmd contract.

``pytest suites/ --client reference`` and ``pytest suites/ --client-cmd "python -m client_under_test"``
must give the same verdict for every check of every scenario (issue 4). The only accepted difference is
a scenario the process client SKIPs as a whole because it lacks a declared capability (a justified SKIP:
"client lacks capability ..."); anything else is a mismatch.

    python bench/cmd_parity.py REF.json CMD.json        # compare two results.json files
    python bench/cmd_parity.py --run [--out DIR] [-n 2]  # run both (suites/, without suites/properties) first

Prints one row per (scenario, revision): the reference verdict, the cmd verdict and, for a mismatch, the
checks that differ; then ``mismatches: N``. Exit status 1 when N > 0. A scenario's verdict is FAIL when
any check FAILs, SKIP when every check SKIPs, else PASS (WARN and INFO do not fail a scenario).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CMD = "python -m client_under_test"
CAPABILITY_SKIP = "client lacks capability"
Key = tuple[str, str]  # (scenario, revision)


def load(path: Path) -> dict[Key, dict[str, dict[str, Any]]]:
    """{(scenario, revision): {check id: row}} from a results.json (one client per file)."""
    rows = json.loads(path.read_text())["checks"]
    clients = {r["client"] for r in rows}
    if len(clients) > 1:
        raise SystemExit(f"{path}: results of several clients ({', '.join(sorted(clients))}); run one per file")
    out: dict[Key, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        out[(r["scenario"], r["revision"])][r["check"]] = r
    return out


def verdict(checks: dict[str, dict[str, Any]] | None) -> str:
    if not checks:
        return "-"
    statuses = {r["status"] for r in checks.values()}
    if "FAIL" in statuses:
        return "FAIL"
    if statuses == {"SKIP"}:
        return "SKIP"
    return "PASS"


def justified_skip(checks: dict[str, dict[str, Any]] | None) -> str | None:
    """The reason when the process client SKIPped the whole scenario for a missing capability."""
    if not checks or {r["status"] for r in checks.values()} != {"SKIP"}:
        return None
    reasons = {r["message"] for r in checks.values()}
    reason = next(iter(reasons))
    return reason if len(reasons) == 1 and reason.startswith(CAPABILITY_SKIP) else None


def compare(ref: dict[Key, dict[str, dict[str, Any]]], cmd: dict[Key, dict[str, dict[str, Any]]]
            ) -> tuple[list[tuple[Key, str, str, str]], int]:
    """Rows (key, ref verdict, cmd verdict, note) and the mismatch count."""
    rows = []
    mismatches = 0
    for key in sorted(set(ref) | set(cmd)):
        r, c = ref.get(key), cmd.get(key)
        note = ""
        if r is None or c is None:
            note = f"MISMATCH: only in {'cmd' if r is None else 'reference'} results"
        elif (why := justified_skip(c)) and not justified_skip(r):
            note = f"justified SKIP: {why}"
        else:
            diff = [f"{cid} {r[cid]['status'] if cid in r else '-'}/{c[cid]['status'] if cid in c else '-'}"
                    for cid in sorted(set(r) | set(c))
                    if (r.get(cid) or {}).get("status") != (c.get(cid) or {}).get("status")]
            if diff:
                note = "MISMATCH: " + ", ".join(diff)
        mismatches += note.startswith("MISMATCH")
        rows.append((key, verdict(r), verdict(c), note))
    return rows, mismatches


def run_suites(out: Path, workers: int) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / "reference.json", out / "cmd.json")
    for client_args, path in ((["--client", "reference"], paths[0]), (["--client-cmd", CMD], paths[1])):
        cmd = [sys.executable, "-m", "pytest", "suites/", "--ignore=suites/properties", "-q", "-p", "no:cacheprovider",
               "-n", str(workers), *client_args, "--results", str(path)]
        print("$", " ".join(cmd[2:]), file=sys.stderr)
        subprocess.run(cmd, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
        if not path.exists():
            raise SystemExit(f"pytest wrote no {path}")
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ref", nargs="?", type=Path, help="results.json of --client reference")
    ap.add_argument("cmd", nargs="?", type=Path, help=f"results.json of --client-cmd '{CMD}'")
    ap.add_argument("--run", action="store_true", help="run both suites first")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "cmd_parity", help="where --run writes results")
    ap.add_argument("-n", "--workers", type=int, default=2)
    args = ap.parse_args()
    if args.run:
        args.ref, args.cmd = run_suites(args.out, args.workers)
    elif not (args.ref and args.cmd):
        ap.error("give REF.json and CMD.json, or --run")
    rows, mismatches = compare(load(args.ref), load(args.cmd))
    width = max([len(f"{s} @{rev}") for (s, rev), *_ in rows] + [8])
    print(f"{'scenario':<{width}}  {'reference':<9}  {'cmd':<5}  note")
    for (scenario, rev), rv, cv, note in rows:
        print(f"{scenario + ' @' + rev:<{width}}  {rv:<9}  {cv:<5}  {note}")
    skips = sum(1 for *_, note in rows if note.startswith("justified"))
    print(f"\nscenarios: {len(rows)}, justified skips: {skips}, mismatches: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
