import sys
import types

import pytest

from client_under_test.adapters import registry
from client_under_test.adapters.cmd import CmdAdapter
from client_under_test.adapters.mutant import MutantAdapter
from client_under_test.adapters.reference import ReferenceAdapter
from client_under_test.adapters.registry import UsageError, resolve


@pytest.fixture
def mutants(monkeypatch):
    mod = types.ModuleType("client_under_test.mutants")
    mod.REGISTRY = {"C08-no-refresh-singleflight": object, "C14-interactive-on-401": object,
                    "C01-register-per-flow": object}
    monkeypatch.setitem(sys.modules, "client_under_test.mutants", mod)
    return mod


def test_reference_and_cmd():
    ref, cmd = resolve(["reference", "cmd:python -m client_under_test"])
    assert isinstance(ref, ReferenceAdapter) and ref.name == "reference"
    assert isinstance(cmd, CmdAdapter) and cmd.name == "cmd:python -m client_under_test"
    assert cmd.command == "python -m client_under_test"


def test_duplicates_are_dropped():
    assert [a.name for a in resolve(["reference", "reference"])] == ["reference"]


def test_mutant_globs(mutants):
    all_ = resolve(["mutant:*"])
    assert [a.name for a in all_] == ["mutant:C01-register-per-flow", "mutant:C08-no-refresh-singleflight",
                                      "mutant:C14-interactive-on-401"]
    assert all(isinstance(a, MutantAdapter) for a in all_)
    assert [a.name for a in resolve(["mutant:C08*"])] == ["mutant:C08-no-refresh-singleflight"]
    assert resolve(["mutant:C14-interactive-on-401"])[0].catalogue_id == "C14"


def test_glob_matching_nothing_is_a_usage_error(mutants):
    with pytest.raises(UsageError, match="matches nothing"):
        resolve(["mutant:C99*"])


def test_mutant_glob_without_mutants_module_is_empty(monkeypatch):
    monkeypatch.setitem(sys.modules, "client_under_test.mutants", None)  # import raises ModuleNotFoundError
    assert resolve(["mutant:*"]) == []


def test_unknown_name_is_one_line_usage_error(mutants):
    with pytest.raises(UsageError) as err:
        resolve(["refrence"])
    msg = str(err.value)
    assert "\n" not in msg
    assert "unknown client 'refrence'" in msg and "reference" in msg and "cmd:<command>" in msg
    with pytest.raises(UsageError, match="needs a command"):
        resolve(["cmd:  "])


def test_register_hook(monkeypatch):
    class Custom:
        name = "custom-sdk"
        capabilities = frozenset({"dcr"})
        unavailable = None

        async def run(self, env, actions):  # pragma: no cover
            raise NotImplementedError

    monkeypatch.setitem(registry._FACTORIES, "custom-sdk", Custom)
    assert resolve(["custom-*"])[0].name == "custom-sdk"
    assert "custom-sdk" in registry.valid_names()
