"""Mutants: the reference client with exactly one catalogued bug each.

A mutant is a module in this package (``c08_no_refresh_singleflight.py``) that defines:

* ``NAME = "C08-no-refresh-singleflight"``: ``Cxx-short-description``, the catalogue id first;
* ``class Mutant(ReferenceClient)``: a subclass overriding ONE small method of the reference client (see
  the table in ``client_under_test/reference/__init__.py``): a strategy swapped or a lock removed, never a
  copy of the client;
* a docstring saying which real bug it reproduces.

``REGISTRY`` maps every name to its class; it is built by importing the modules of this package, so
adding a mutant is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil

from client_under_test.reference import ReferenceClient

REGISTRY: dict[str, type[ReferenceClient]] = {}


def _load() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name, cls = getattr(module, "NAME", None), getattr(module, "Mutant", None)
        if not (isinstance(name, str) and isinstance(cls, type) and issubclass(cls, ReferenceClient)):
            raise TypeError(f"{module.__name__} must define NAME = 'Cxx-...' and class Mutant(ReferenceClient)")
        if name in REGISTRY:
            raise ValueError(f"two mutants are named {name}")
        REGISTRY[name] = cls


_load()
