"""Adapters: one protocol to drive any client through a scenario's action script (see base.py).

``resolve_clients(["reference", "mutant:*", "cmd:python -m client_under_test"])`` turns user-facing names
into adapters; ``register()`` lets an adapter module (mcp_python_sdk.py, ts_sdk.py) plug in.
"""

from client_under_test.adapters.base import Adapter, BaseAdapter
from client_under_test.adapters.registry import UsageError, register, resolve, resolve_clients, valid_names

__all__ = ["Adapter", "BaseAdapter", "UsageError", "register", "resolve", "resolve_clients", "valid_names"]
