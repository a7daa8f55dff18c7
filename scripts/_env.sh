# Sourced by scripts/*: makes sure the project's .venv exists and is current, then puts it first on PATH.
# Self-bootstrapping: a fresh clone with only python3 gets everything from the package registry.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [[ ! -x .venv/bin/python || ! -f $stamp ]]; then
  echo "[bootstrap] installing the harness into $ROOT/.venv" >&2
  [[ -x .venv/bin/python ]] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q -e ".[dev]" >&2
  rm -f .venv/.installed-*; touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export VIRTUAL_ENV="$ROOT/.venv"
