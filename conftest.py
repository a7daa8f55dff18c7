"""Root conftest: hypothesis settings profiles shared by tests/ and suites/.

Profiles (select with HYPOTHESIS_PROFILE or pytest --hypothesis-profile):
  ci   derandomized, fixed budget; scripts/test uses it
  dev  randomized, moderate budget (the default outside CI)
  deep thousands of examples, for hunting races
The dev and deep profiles keep their example database in .hypothesis/ between runs, so a found
counterexample is replayed first next time; ci is derandomized and needs none.
"""

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_db = DirectoryBasedExampleDatabase(os.path.join(os.path.dirname(__file__), ".hypothesis", "examples"))
_common = {"suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture], "deadline": None}
# Derandomized runs replay the same examples every time, so they have no use for (and hypothesis refuses) a
# database; the others keep theirs so a found counterexample is tried first on the next run.
settings.register_profile("ci", derandomize=True, database=None, max_examples=25, print_blob=True, **_common)
settings.register_profile("dev", database=_db, max_examples=60, **_common)
settings.register_profile("deep", database=_db, max_examples=3000, stateful_step_count=60, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
