import pytest

from harness import actions as a
from harness.model import Check, Scenario, ScriptError, validate_actions
from harness.script import split_segments


def test_validate_rejects_bad_actions():
    with pytest.raises(ScriptError, match="unknown do='fly'"):
        validate_actions([{"do": "fly"}])
    with pytest.raises(ScriptError, match="lacks name"):
        validate_actions([{"do": "call_tool"}])
    with pytest.raises(ScriptError, match="harness actions only"):
        validate_actions([a.burst(2, during=[a.connect()])])
    with pytest.raises(ScriptError, match="cannot be nested"):
        validate_actions([a.open_tabs(2, steps=[a.restart()])])


def test_scenario_validation():
    with pytest.raises(ScriptError, match="area/name"):
        Scenario(id="flat", title="t", actions=[], checks=[])
    with pytest.raises(ScriptError, match="unknown capabilities"):
        Scenario(id="a/b", title="t", actions=[], checks=[], needs={"teleport"})
    with pytest.raises(ValueError, match="unknown spec revision"):
        Scenario(id="a/b", title="t", actions=[], checks=[], since="1999-01-01")


def test_check_since_is_derived_from_spec_requirements():
    c = Check("x", ["C14", "MCP-2026-07-28:ISS-1"], lambda ctx: None)
    assert c.since == "2026-07-28"
    assert not c.applies_to("2025-11-25") and c.applies_to("2026-07-28")
    assert Check("y", ["C08"], lambda ctx: None).applies_to("2025-03-26")


def test_split_segments_cuts_at_between_actions_restarts_and_replicas():
    script = validate_actions([
        a.connect(), a.call_tool(), a.advance_clock(10), a.call_tool(),
        a.burst(3, during=[a.wait_gate("g", 3), a.release_gate("g")]),
        a.restart(), a.call_tool(),
        a.replicas(2, steps=[a.connect()], during=[a.wait_journal("token_issued", 1)]),
        a.revoke_tokens(),
    ])
    segs, tail = split_segments(script)
    assert [[x["do"] for x in s.actions] for s in segs] == [
        ["connect", "call_tool"], ["call_tool", "burst"], ["call_tool"], ["connect"]]
    assert [[x["do"] for x in s.before] for s in segs] == [[], ["advance_clock"], [], []]
    assert [x["do"] for x in segs[1].during] == ["wait_gate", "release_gate"]
    assert "during" not in segs[1].actions[1]
    assert segs[3].replicas == 2 and [x["do"] for x in segs[3].during] == ["wait_journal"]
    assert [x["do"] for x in tail] == ["revoke_tokens"]


def test_a_restarts_context_reaches_every_later_segment_until_the_next_restart():
    script = validate_actions([
        a.connect(), a.restart(context={"redirect_uri": "http://127.0.0.1:1/cb"}), a.call_tool(),
        a.revoke_tokens(), a.call_tool(), a.restart(), a.call_tool(),
    ])
    segs, _ = split_segments(script)
    assert [s.context for s in segs] == [{}, {"redirect_uri": "http://127.0.0.1:1/cb"},
                                         {"redirect_uri": "http://127.0.0.1:1/cb"}, {}]
