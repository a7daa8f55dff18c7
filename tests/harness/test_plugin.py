"""The pytest plugin, driven through pytester (subprocess runs, so the entry point and xdist are real)."""

import json
import sys

import pytest

from .support import FAKE_CLIENT

pytest_plugins = ["pytester"]

SUITE = '''
from harness import FAIL, PASS, Scenario
from harness import actions as a
from harness.model import Check


def _seen(ctx):
    n = len(ctx.q.requests("mcp"))
    return PASS(f"{n} MCP requests") if n else FAIL("no MCP request")


SEEN = Check("t.seen", ["C99"], _seen)
ALWAYS = Check("t.always-fails", ["C98", "RFC6749-6"], lambda ctx: FAIL("this check always fails"))
LATE = Check("t.late", ["MCP-2026-07-28:ISS-1"], lambda ctx: PASS("applies from 2026-07-28"))

test_ok = Scenario(id="t/ok", title="ok", actions=[a.connect(), a.call_tool()], checks=[SEEN, LATE]).as_test()
test_bad = Scenario(id="t/bad", title="bad", actions=[a.call_tool()], checks=[SEEN, ALWAYS]).as_test()
test_needs = Scenario(id="t/needs", title="needs", actions=[a.connect()], checks=[SEEN],
                      needs={"replicas"}).as_test()
'''

CMD = f"{sys.executable} {FAKE_CLIENT}"


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--client-cmd", CMD, *args)


def one_error_line(result):
    lines = [ln for ln in result.stderr.lines if ln.strip()]
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stderr.str()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(("args", "needle"), [
    (["--client", "nope"], "unknown client 'nope'"),
    (["--client", "mutant:C99*"], "mutant"),
    (["--store", "disk"], "--store 'disk' is unknown"),
    (["--spec-revision", "1999-01-01"], "--spec-revision '1999-01-01' is unknown"),
    (["--expected-failures", "missing.yaml"], "no such file"),
    (["--cmd-capabilities", "teleport"], "unknown capabilities teleport"),
    (["--step-timeout", "0"], "--step-timeout"),
])
def test_bad_options_are_one_line_usage_errors(suite, args, needle):
    line = one_error_line(suite.runpytest_subprocess("-p", "no:cacheprovider", *args))
    assert line.startswith("ERROR: ") and needle in line


def test_ids_verdicts_and_results_json(suite):
    res = run(suite, "-v", "--results", "out/results.json", "--spec-revision", "2025-11-25",
              "--cmd-capabilities", "dcr,refresh")
    res.assert_outcomes(passed=1, failed=1, skipped=1)
    res.stdout.fnmatch_lines([f"*test_ok[[]cmd:{CMD}-2025-11-25[]] PASSED*",
                              "*FAIL t/bad::t.always-fails [[]C98, RFC6749-6[]]: this check always fails*",
                              "*journal excerpt*", "*harness: *-> *results.json"])
    data = json.loads((suite.path / "out" / "results.json").read_text())
    assert set(data) == {"run", "checks", "counterexamples"}
    run_ = data["run"]
    assert run_["clients"] == [f"cmd:{CMD}"] and run_["revisions"] == ["2025-11-25"] and run_["store"] == "memory"
    assert {"python", "mcp", "harness"} <= set(run_["versions"]) and run_["started"] and run_["finished"]
    assert set(run_["knobs"]) == {"t/ok", "t/bad", "t/needs"}
    rows = {(r["scenario"], r["check"]): r for r in data["checks"]}
    assert rows[("t/ok", "t.seen")]["status"] == "PASS"
    assert rows[("t/ok", "t.late")]["status"] == "SKIP"  # a later revision's check is never a PASS
    bad = rows[("t/bad", "t.always-fails")]
    assert bad["status"] == "FAIL" and bad["requirements"] == ["C98", "RFC6749-6"] and bad["journal"]
    assert {"client", "revision", "message", "duration_s", "severity", "evidence", "highlight"} <= set(bad)
    needs = rows[("t/needs", "t.seen")]
    assert needs["status"] == "SKIP" and needs["message"] == "client lacks capability replicas"


def test_capability_skip_reason_in_terminal(suite):
    res = run(suite, "-rs", "-k", "needs", "--cmd-capabilities", "dcr,refresh")
    res.assert_outcomes(skipped=1)
    res.stdout.fnmatch_lines(["*client lacks capability replicas*"])


def test_xdist_workers_merge_into_one_results_json(suite):
    res = run(suite, "-n", "2", "--results", "r.json", "--spec-revision", "all", "--cmd-capabilities", "refresh")
    res.assert_outcomes(passed=4, failed=4, skipped=4)
    data = json.loads((suite.path / "r.json").read_text())
    assert len(data["checks"]) == 4 * (2 + 2 + 1)
    assert {r["revision"] for r in data["checks"]} == {"2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"}
    late = {r["revision"]: r["status"] for r in data["checks"] if r["check"] == "t.late"}
    assert late == {"2025-03-26": "SKIP", "2025-06-18": "SKIP", "2025-11-25": "SKIP", "2026-07-28": "PASS"}
    assert set(data["run"]["knobs"]) == {"t/ok", "t/bad", "t/needs"}


def test_expected_failures_xfail_strict(suite):
    suite.path.joinpath("baseline.yaml").write_text("'cmd:*':\n  - t.always-fails\n")
    res = run(suite, "--expected-failures", "baseline.yaml", "-k", "bad", "--results", "r.json")
    res.assert_outcomes(xfailed=1)
    data = json.loads((suite.path / "r.json").read_text())
    row = next(r for r in data["checks"] if r["check"] == "t.always-fails")
    assert row["status"] == "FAIL" and row["expected_failure"] is True


def test_stale_expected_failure_fails_the_run(suite):
    suite.path.joinpath("baseline.yaml").write_text("'cmd:*':\n  - t/ok::t.seen\n  - t.typo\n")
    res = run(suite, "--expected-failures", "baseline.yaml", "-k", "ok")
    res.assert_outcomes(failed=1)
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*stale expected failure 't/ok::t.seen'*now PASS*remove it from baseline.yaml*",
                              "*baseline entr* matched no check that ran: cmd:*: t.typo*"])


def test_unlisted_failure_still_fails_with_a_baseline(suite):
    suite.path.joinpath("baseline.yaml").write_text("'cmd:*':\n  - t.always-fails\nother: [t.seen]\n")
    res = run(suite, "--expected-failures", "baseline.yaml", "-k", "bad", "--client-cmd", f"{CMD} --x")
    # the second client (a different command) gets the same baseline through the glob
    res.assert_outcomes(xfailed=2)


def test_plugin_is_inert_for_plain_tests(pytester):
    pytester.makepyfile(test_plain="def test_x():\n    assert True\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_redis_missing_falls_back_to_sqlite_and_says_so(suite):
    suite.makeconftest("import client_under_test.stores.redis_server as rs\nrs.redis_server_binary = lambda *a: None\n")
    res = run(suite, "-k", "ok", "--store", "redis", "--results", "r.json")
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["*harness: NOTE --store redis: *ran on sqlite instead*"])
    data = json.loads((suite.path / "r.json").read_text())
    assert data["run"]["store"] == "redis" and data["run"]["store_effective"] == "sqlite"
    assert any("ran on sqlite" in n for n in data["run"]["notes"])
    assert all(r["store"].startswith("sqlite:") for r in data["checks"] if r["status"] != "SKIP")
