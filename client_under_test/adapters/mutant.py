"""``mutant:<Cxx-name>``: the reference client with exactly one catalogued bug, in-process.

The class comes from ``client_under_test.mutants.REGISTRY``; replica processes get ``"mutant": name`` in
their context so the conformance CLI builds the same subclass.
"""

from __future__ import annotations

from client_under_test.adapters.reference import ReferenceAdapter


class MutantAdapter(ReferenceAdapter):
    def __init__(self, mutant: str) -> None:
        self.mutant = mutant
        self.name = f"mutant:{mutant}"

    @property
    def catalogue_id(self) -> str:
        """The catalogue id the mutant carries, e.g. C08 for mutant:C08-no-refresh-singleflight."""
        return self.mutant.split("-", 1)[0]

    def client_class(self) -> type:
        from client_under_test.mutants import REGISTRY

        return REGISTRY[self.mutant]
