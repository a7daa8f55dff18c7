"""The state one running mock shares between its parts: knobs, clock, journal, faults, gates, URLs.

The authorization server (``mock_as.authorization``), the resource server, the admin API and the runner
all take a ``ServerContext``; nothing else is global.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from mock_as.clock import Clock, SystemClock
from mock_as.faults import FaultPlan
from mock_as.gates import Gates
from mock_as.journal import Journal
from mock_as.knobs import Knobs


@dataclass
class Urls:
    """Absolute URLs, known once the sockets are bound (port 0 picks a free port)."""

    origin: str  # the MCP server's origin, e.g. http://127.0.0.1:41234
    as_origin: str  # the AS's origin (== origin unless layout=as_separate_origin)
    issuer: str  # e.g. http://127.0.0.1:41234 or http://127.0.0.1:41234/tenant1
    resource: str  # the canonical MCP server URI, e.g. http://127.0.0.1:41234/mcp
    prm: str | None  # where the protected resource metadata is served (None: legacy layout)


@dataclass
class ServerContext:
    knobs: Knobs = field(default_factory=Knobs)
    clock: Clock = field(default_factory=SystemClock)
    journal: Journal | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    gates: Gates = field(default_factory=Gates)
    urls: Urls | None = None
    state: Any = None  # mock_as.authorization.state.ASState, set by the app factory
    keys: Any = None  # mock_as.authorization.keys.KeyRing
    second_as: Any = None  # ServerContext of knobs.second_as_path's AS, built on first use (mock_as.second_as)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        if self.journal is None:
            self.journal = Journal(self.clock.now)

    def now(self) -> float:
        return self.clock.now()
