#!/usr/bin/env bash
# Suite wall time on this machine with -n auto: the reference client alone, then the reference client plus
# every mutant; the median per scenario and per race scenario (from results.json durations).
#
#   bench/suite_wall_time.sh [extra pytest args]       # e.g. -k refresh
#
# Prints figures only; exits 0 whatever the verdicts (the mutants are expected to fail checks).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PY:-$ROOT/.venv/bin/python}
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
echo "suite wall time: $(nproc) cores, -n auto, $(ls -d suites/*/ | wc -l) suite folders ($(ls suites/*/test_*.py 2>/dev/null | wc -l) modules); load average $(cut -d' ' -f1 /proc/loadavg)"

run() {  # label, results file, pytest args...
  local label=$1 results=$2; shift 2
  local t0 t1 rc
  t0=$(date +%s.%N)
  "$PY" -m pytest suites/ -n auto -q -p no:cacheprovider --results "$results" "$@" >"$results.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  printf '%-36s %7.1f s wall  (pytest exit %s: %s)\n' "$label" "$(awk "BEGIN{print $t1 - $t0}")" "$rc" \
    "$(grep -E '(passed|failed|error|skipped)' "$results.log" | tail -1)"
}

run "reference" "$out/reference.json" --client reference "$@"
run "reference + all mutants" "$out/all.json" --client reference --client 'mutant:*' "$@"

"$PY" -m pytest suites/ -q -p no:cacheprovider --collect-only -m race --client reference "$@" >"$out/race_ids.txt" 2>/dev/null || true
[[ -f $out/reference.json ]] && "$PY" bench/results_stats.py durations "$out/reference.json" --race-ids "$out/race_ids.txt" --client reference
[[ -f $out/all.json ]] && "$PY" bench/results_stats.py durations "$out/all.json" --race-ids "$out/race_ids.txt"
echo "results and logs: $out"
