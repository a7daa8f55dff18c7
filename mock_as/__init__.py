"""mock_as: a configurable mock OAuth authorization server and MCP resource server.

See docs/contracts.md for how the parts fit, and the README for the knobs, presets and admin API.
"""

from mock_as.clock import ManualClock, SystemClock
from mock_as.faults import Fault, FaultPlan
from mock_as.gates import Gate, Gates
from mock_as.journal import Entry, Journal
from mock_as.knobs import PRESETS, KnobError, Knobs, from_preset

__all__ = ["PRESETS", "Entry", "Fault", "FaultPlan", "Gate", "Gates", "Journal", "KnobError", "Knobs",
           "ManualClock", "SystemClock", "from_preset"]
