"""The harness: scenarios, checks, the pytest plugin and results.json (see docs/contracts.md)."""
