"""Client names -> adapters.

Names: ``reference``; ``mutant:<Cxx-name>`` (from ``client_under_test.mutants.REGISTRY``); whatever adapter
modules register (``mcp-python-sdk``, ``ts-sdk``); ``cmd:<command>``. Globs (``mutant:*``,
``mutant:C08*``) expand over the known names. Unknown names raise :class:`UsageError` with one line.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterable

from client_under_test.adapters.base import Adapter

#: Adapter modules that register themselves on import; a missing module is simply not offered.
PLUGIN_MODULES = ("client_under_test.adapters.mcp_python_sdk", "client_under_test.adapters.ts_sdk")

_FACTORIES: dict[str, Callable[[], Adapter]] = {}
_BROKEN: dict[str, str] = {}  # module -> import error, reported when the user asks for its name
_loaded = False


def _reference() -> Adapter:
    from client_under_test.adapters.reference import ReferenceAdapter

    return ReferenceAdapter()


_FACTORIES["reference"] = _reference


class UsageError(ValueError):
    """A bad client selection; the message is one line saying how to fix it."""


def register(name: str, factory: Callable[[], Adapter]) -> None:
    """Offer a named client. ``factory()`` builds its adapter (called once per resolve)."""
    _FACTORIES[name] = factory


def _load_plugins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                _BROKEN[mod] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a broken adapter module must not break every other client
            _BROKEN[mod] = f"{type(exc).__name__}: {exc}"


def mutant_names() -> list[str]:
    """``mutant:<name>`` for every registered mutant (empty until client_under_test.mutants exists)."""
    try:
        from client_under_test.mutants import REGISTRY
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("client_under_test.mutants"):
            return []
        raise UsageError(f"client_under_test.mutants failed to import: {exc}") from None
    except Exception as exc:
        raise UsageError(f"client_under_test.mutants failed to import: {type(exc).__name__}: {exc}") from None
    return [f"mutant:{n}" for n in sorted(REGISTRY)]


def valid_names() -> list[str]:
    _load_plugins()
    return sorted(_FACTORIES) + mutant_names()


def _hint() -> str:
    _load_plugins()
    muts = mutant_names()
    m = f"mutant:<name> ({len(muts)}, e.g. {muts[0]})" if muts else "mutant:<name> (none defined yet)"
    return f"valid: {', '.join(sorted(_FACTORIES))}, {m}, globs like 'mutant:C08*', cmd:<command>"


def _build(name: str) -> Adapter:
    if name.startswith("cmd:"):
        from client_under_test.adapters.cmd import CmdAdapter

        command = name[4:].strip()
        if not command:
            raise UsageError("cmd: needs a command, e.g. --client 'cmd:python -m client_under_test'")
        return CmdAdapter(command)
    if name.startswith("mutant:"):
        from client_under_test.adapters.mutant import MutantAdapter

        return MutantAdapter(name[len("mutant:"):])
    return _FACTORIES[name]()


def resolve(names: Iterable[str]) -> list[Adapter]:
    """Adapters for the given names, in order, without duplicates. Raises UsageError (one line)."""
    chosen: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            _load_plugins()
            raise UsageError(f"empty client name; {_hint()}")
        if name.startswith("cmd:") or name in _FACTORIES:  # no need to import anything else
            chosen.extend([name] if name not in chosen else [])
            continue
        _load_plugins()
        known = valid_names()
        if any(ch in name for ch in "*?["):
            hits = [k for k in known if fnmatch.fnmatchcase(k, name)]
            if not hits and not (name.startswith("mutant:") and not mutant_names()):
                raise UsageError(f"client pattern {name!r} matches nothing; {_hint()}")
        elif name in known:
            hits = [name]
        else:
            broken = next((err for mod, err in _BROKEN.items() if mod.rsplit(".", 1)[1].replace("_", "-") == name
                           or mod.endswith(name.replace("-", "_"))), None)
            if broken:
                raise UsageError(f"client {name!r} failed to load ({broken}); fix the adapter module")
            raise UsageError(f"unknown client {name!r}; {_hint()}")
        chosen.extend(h for h in hits if h not in chosen)
    return [_build(n) for n in chosen]


resolve_clients = resolve
