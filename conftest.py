"""Root conftest: hypothesis settings profiles shared by tests/ and suites/.

Profiles (select with HYPOTHESIS_PROFILE or pytest --hypothesis-profile):
  ci   derandomized, fixed budget; scripts/test uses it
  dev  randomized, moderate budget (the default outside CI)
  deep thousands of examples, for hunting races
The example database lives in .hypothesis/ and is kept between runs, so a found counterexample is
replayed first next time.
"""

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_db = DirectoryBasedExampleDatabase(os.path.join(os.path.dirname(__file__), ".hypothesis", "examples"))
_common = {"database": _db, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
           "deadline": None}
settings.register_profile("ci", derandomize=True, max_examples=25, print_blob=True, **_common)
settings.register_profile("dev", max_examples=60, **_common)
settings.register_profile("deep", max_examples=3000, stateful_step_count=60, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
