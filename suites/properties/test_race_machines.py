"""Hypothesis race machines against the selected clients (see suites/properties/machines.py).

``pytest suites/properties`` runs them against the reference (they must pass); with
``--client 'mutant:*'`` each race mutant is expected to FAIL with a shrunk, readable counterexample.
"""

from suites.properties.glue import property_test
from suites.properties.machines import ReplicasMachine, TabsMachine

test_tabs_machine = property_test(TabsMachine)
test_replicas_machine = property_test(ReplicasMachine)
