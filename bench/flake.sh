#!/usr/bin/env bash
# Flake check: the full reference suite N times (default 20); zero failing runs is the only acceptable result.
#
#   bench/flake.sh [N] [extra pytest args]          # e.g. bench/flake.sh 5 -m race
#
# Prints one line per run and "flake: F of N runs failed" (exit 1 when F > 0), with the failing checks.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PY:-$ROOT/.venv/bin/python}
runs=${1:-20}; shift || true
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
failed=0
start=$(date +%s)
for i in $(seq 1 "$runs"); do
  t0=$(date +%s)
  "$PY" -m pytest suites/ -n auto -q -p no:cacheprovider --client reference --results "$out/run$i.json" "$@" \
    >"$out/run$i.log" 2>&1
  rc=$?
  summary=$(grep -E '(passed|failed|error)' "$out/run$i.log" | tail -1)
  if [[ $rc != 0 ]]; then
    failed=$((failed + 1))
    echo "run $i: FAILED (exit $rc) in $(( $(date +%s) - t0 )) s: $summary"
    [[ -f $out/run$i.json ]] && "$PY" bench/results_stats.py failures "$out/run$i.json" | sed 's/^/    /'
  else
    echo "run $i: ok in $(( $(date +%s) - t0 )) s: $summary"
  fi
done
echo "flake: $failed of $runs runs failed ($(( $(date +%s) - start )) s; logs in $out)"
[[ $failed == 0 ]]
