#!/usr/bin/env bash
# Side by side: the official MCP conformance suite (@modelcontextprotocol/conformance 0.1.16, auth suite)
# and ours, on the same client (`python -m client_under_test`, ours through --client-cmd), one run each.
# Prints per suite: total wall time, scenarios, the median wall time per scenario, checks and checks per
# second; then the ratios (ours / official). Figures only; the verdicts are the acceptance scripts' job.
#
#   bench/official_comparison.sh [extra pytest args for ours]
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PY:-$ROOT/.venv/bin/python}
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}

# Node >= 22 and the pinned official suite, in the same places the acceptance script uses.
node=$(command -v node || true)
if [[ -z $node ]] || (( $("$node" -p 'process.versions.node.split(".")[0]') < 22 )); then
  node=$("$ROOT/bench/node/install.sh" 2>/dev/null) || { echo "no Node >= 22"; exit 2; }
fi
d=${CONFORMANCE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/acceptance-conformance}
if [[ ! -f $d/node_modules/@modelcontextprotocol/conformance/dist/index.js ]]; then
  mkdir -p "$d" && (cd "$d" && npm init -y >/dev/null 2>&1 && npm install --silent @modelcontextprotocol/conformance@0.1.16 >/dev/null 2>&1)
fi
ver=$("$node" -p "require('$d/node_modules/@modelcontextprotocol/conformance/package.json').version")
echo "official: @modelcontextprotocol/conformance $ver (auth suite); ours: pytest suites/ -n auto --client-cmd; $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"

t0=$(date +%s.%N)
"$node" "$d/node_modules/@modelcontextprotocol/conformance/dist/index.js" client \
  --command "$PY -m client_under_test" --suite auth -o "$out/official" >"$out/official.log" 2>&1
t1=$(date +%s.%N)
"$PY" -m pytest suites/ -n auto -q -p no:cacheprovider --client-cmd "python -m client_under_test" \
  --results "$out/ours.json" "$@" >"$out/ours.log" 2>&1
t2=$(date +%s.%N)

"$PY" - "$out" "$t0" "$t1" "$t2" <<'PYEOF'
import json, re, statistics, sys
from datetime import datetime, timezone
from pathlib import Path
sys.path.insert(0, "bench")
from results_stats import scenario_runs

out, t0, t1, t2 = Path(sys.argv[1]), *map(float, sys.argv[2:])
# official: one folder per scenario, named <scenario>-<ISO start>; checks.json is written when it ends
off_durations, off_checks, off_status = [], 0, {}
for f in sorted((out / "official").rglob("checks.json")):
    m = re.search(r"-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3})Z$", f.parent.name)
    start = datetime.strptime(m.group(1), "%Y-%m-%dT%H-%M-%S-%f").replace(tzinfo=timezone.utc).timestamp()
    off_durations.append(f.stat().st_mtime - start)
    checks = json.loads(f.read_text())
    off_checks += len(checks)
    for c in checks:
        off_status[c.get("status")] = off_status.get(c.get("status"), 0) + 1
log = (out / "official.log").read_text(errors="replace")
total = re.findall(r"Total: .*", log)
ours = json.loads((out / "ours.json").read_text()) if (out / "ours.json").exists() else {"checks": []}
runs = scenario_runs(ours, None)
our_durations = [r["duration"] for r in runs.values()]
our_checks = sum(r["checks"] for r in runs.values())
our_status = {}
for r in ours["checks"]:
    our_status[r.get("status")] = our_status.get(r.get("status"), 0) + 1
ours_summary = [line for line in (out / "ours.log").read_text(errors="replace").splitlines() if re.search(r"\d+ (passed|failed)", line)]
wall_off, wall_ours = t1 - t0, t2 - t1

def row(name, wall, durs, checks, status):
    med = statistics.median(durs) if durs else float("nan")
    print(f"{name:<9} wall {wall:7.1f} s | {len(durs):4d} scenarios, median {med:6.2f} s/scenario | "
          f"{checks:5d} checks, {checks / wall:6.2f} checks/s | {status}")
    return med

m_off = row("official", wall_off, off_durations, off_checks, off_status)
m_ours = row("ours", wall_ours, our_durations, our_checks, our_status)
print(f"official summary: {total[-1] if total else '(none)'}; ours: {ours_summary[-1] if ours_summary else '(none)'}")
if off_durations and our_durations and off_checks:
    print(f"ratio ours/official: median wall per scenario {m_ours / m_off:.2f} (< 1: ours is faster per scenario); "
          f"checks {our_checks / off_checks:.1f}x; checks per second {(our_checks / wall_ours) / (off_checks / wall_off):.2f}x")
print(f"logs and results: {out}")
PYEOF
