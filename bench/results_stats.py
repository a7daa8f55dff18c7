"""Figures from results.json files, for bench/suite_wall_time.sh, bench/flake.sh and bench/official_comparison.sh.

    python bench/results_stats.py durations results.json [--race-ids FILE] [--client reference]
    python bench/results_stats.py failures results.json

``durations``: the number of scenario runs (client x scenario x revision) and checks, the median and the
sum of per-scenario durations (``duration_s`` of the scenario's checks: the scenario's wall time), and
the same for the race scenarios (node ids listed in --race-ids, one per line, as ``pytest --collect-only
-q -m race`` prints them). ``failures``: the failing checks, one line each.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def scenario_runs(results: dict[str, Any], client: str | None) -> dict[tuple[str, str, str], dict[str, Any]]:
    runs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in results.get("checks", []):
        if client and row.get("client") != client:
            continue
        key = (row.get("client", ""), row.get("scenario", ""), row.get("revision", ""))
        run = runs.setdefault(key, {"duration": 0.0, "checks": 0, "nodeid": row.get("nodeid", ""), "statuses": []})
        run["duration"] = max(run["duration"], float(row.get("duration_s") or 0.0))
        run["checks"] += 1
        run["statuses"].append(row.get("status"))
    return runs


def _line(label: str, durations: list[float]) -> str:
    if not durations:
        return f"{label}: none"
    return (f"{label}: {len(durations)} scenario runs, median {statistics.median(durations):.2f} s, "
            f"p90 {sorted(durations)[int(0.9 * (len(durations) - 1))]:.2f} s, max {max(durations):.2f} s, "
            f"sum {sum(durations):.1f} s")


def durations(path: Path, race_ids: Path | None, client: str | None) -> None:
    results = json.loads(path.read_text(encoding="utf-8"))
    runs = scenario_runs(results, client)
    checks = sum(r["checks"] for r in runs.values())
    print(f"{path.name}: {checks} checks in {len(runs)} scenario runs"
          + (f" (client {client})" if client else f" ({len({k[0] for k in runs})} clients)"))
    print("  " + _line("all scenarios", [r["duration"] for r in runs.values()]))
    if race_ids is not None:
        ids = {line.strip().split("[")[0] for line in race_ids.read_text().splitlines() if "::" in line}
        race = [r["duration"] for r in runs.values() if r["nodeid"].split("[")[0] in ids]
        print("  " + _line(f"race scenarios ({len(ids)} race tests collected)", race))


def failures(path: Path) -> None:
    results = json.loads(path.read_text(encoding="utf-8"))
    bad = [r for r in results.get("checks", []) if r.get("status") == "FAIL"]
    for r in bad:
        print(f"FAIL {r.get('client')} {r.get('scenario')} {r.get('check')}: {str(r.get('message', ''))[:160]}")
    print(f"{len(bad)} failing checks")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("durations")
    d.add_argument("results", type=Path)
    d.add_argument("--race-ids", type=Path, default=None)
    d.add_argument("--client", default=None)
    f = sub.add_parser("failures")
    f.add_argument("results", type=Path)
    args = ap.parse_args()
    if args.cmd == "durations":
        durations(args.results, args.race_ids, args.client)
    else:
        failures(args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
