"""mock_as: a configurable mock OAuth authorization server and MCP resource server.

See docs/contracts.md for how the parts fit, and the README for the knobs, presets and admin API.
"""

from mock_as.clock import ManualClock, SystemClock
from mock_as.faults import Fault, FaultPlan
from mock_as.gates import Gate, Gates
from mock_as.journal import Entry, Journal
from mock_as.knobs import PRESETS, KnobError, Knobs, from_preset

__all__ = ["PRESETS", "Entry", "Fault", "FaultPlan", "Gate", "Gates", "Journal", "KnobError", "Knobs",
           "ManualClock", "MockServer", "SystemClock", "from_preset"]


def __getattr__(name: str) -> object:
    """``mock_as.MockServer`` on first use: it pulls in uvicorn and the mcp SDK, which plain imports skip."""
    if name == "MockServer":
        from mock_as.server import MockServer

        return MockServer
    raise AttributeError(f"module 'mock_as' has no attribute {name!r}")
