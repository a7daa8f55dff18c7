"""Exit 0 when suites/ holds scenario tests, 1 when it does not yet (so scripts/test can skip the stage)."""

import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent / "suites"
sys.exit(0 if any(root.rglob("test_*.py")) else 1)
