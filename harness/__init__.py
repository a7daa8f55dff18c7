"""The harness: scenarios, checks, the pytest plugin and results.json (see docs/contracts.md, harness/README.md)."""

from harness.model import (
    CAPABILITIES,
    DEFAULT_REVISION,
    FAIL,
    INFO,
    PASS,
    REVISIONS,
    SKIP,
    WARN,
    Action,
    Check,
    CheckContext,
    Outcome,
    Scenario,
    ScenarioEnv,
    StepResult,
    Verdict,
)

__all__ = ["CAPABILITIES", "DEFAULT_REVISION", "FAIL", "INFO", "PASS", "REVISIONS", "SKIP", "WARN", "Action",
           "Check", "CheckContext", "Outcome", "Scenario", "ScenarioEnv", "StepResult", "Verdict"]
