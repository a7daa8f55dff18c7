"""The pytest plugin (entry point ``mcp_oauth_harness``): options, scenario tests, results.json.

A suites/ module binds scenarios to test names::

    test_mid_session_401 = Scenario(id="refresh/mid_session_401", ...).as_test()

and the plugin parametrizes each over the selected clients x spec revisions
(``test_mid_session_401[reference-2025-11-25]``). A test fails when a check FAILs, is skipped when every
check SKIPs, and xfails (strict) when only baseline-listed checks fail. See harness/README.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.expectations import Expectations, ExpectationsError
from harness.model import DEFAULT_REVISION, REVISIONS, Scenario
from harness.results import Collector, run_record, summarize, write_results

STORES = ("memory", "sqlite", "redis")
_SEVERITY_TO_ALLURE = {"must": "critical", "should": "normal", "may": "minor", "info": "trivial"}


class ScenarioFailed(AssertionError):
    """A check the baseline does not list failed."""


class ExpectedCheckFailure(AssertionError):
    """Only baseline-listed checks failed: the test is xfail(strict)."""


class StaleExpectation(AssertionError):
    """A baseline-listed check passes now: remove it from the baseline."""


@dataclass
class HarnessState:
    adapters: dict[str, Any]
    revisions: list[str]
    store: str
    store_effective: str
    step_timeout_s: float
    expectations: Expectations | None = None
    results_path: str | None = None
    parts_dir: str | None = None
    seed: Any = None
    notes: list[str] = field(default_factory=list)
    collector: Collector = field(default_factory=Collector)
    run: dict[str, Any] = field(default_factory=dict)
    _redis_cm: Any = None
    _redis_url: str | None = None

    def store_arg(self) -> str:
        """What run_scenario gets: "memory", "sqlite" or the URL of this process's redis-server."""
        if self.store_effective != "redis":
            return self.store_effective
        if self._redis_url is None:
            from client_under_test.stores.redis_server import RedisServerUnavailable, run_redis_server

            cm = run_redis_server()
            try:
                server = cm.__enter__()
            except RedisServerUnavailable as exc:
                self.store_effective = "sqlite"
                self.notes.append(f"redis-server could not start ({exc}): ran on sqlite instead")
                return "sqlite"
            self._redis_cm, self._redis_url = cm, server.url
        return self._redis_url

    def close(self) -> None:
        if self._redis_cm is not None:
            with contextlib.suppress(Exception):
                self._redis_cm.__exit__(None, None, None)
            self._redis_cm = self._redis_url = None


STASH = pytest.StashKey[HarnessState]()


# -- options -------------------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("mcp-oauth-harness", "MCP OAuth conformance harness (suites/)")
    g.addoption("--client", action="append", dest="harness_clients", metavar="NAME", default=None,
                help="client to test; repeatable; globs allowed: reference, 'mutant:*', 'mutant:C08*', "
                     "mcp-python-sdk, ts-sdk, 'cmd:<command>' (default: reference)")
    g.addoption("--client-cmd", action="append", dest="harness_client_cmds", metavar="COMMAND", default=None,
                help="shorthand for --client 'cmd:COMMAND': a client under the conformance client contract")
    g.addoption("--cmd-capabilities", dest="harness_cmd_caps", metavar="LIST", default=None,
                help="comma-separated capabilities of the cmd: clients (default: all); scenarios needing "
                     "others are skipped")
    g.addoption("--store", dest="harness_store", metavar="KIND", default="memory",
                help="client store: memory, sqlite or redis (a real redis-server; falls back to sqlite, "
                     "and says so, when it is missing). Replica scenarios use sqlite over memory.")
    g.addoption("--spec-revision", action="append", dest="harness_revisions", metavar="REV", default=None,
                help=f"spec revision(s) to test; repeatable; one of {', '.join(REVISIONS)} or 'all' "
                     f"(default {DEFAULT_REVISION})")
    g.addoption("--results", dest="harness_results", metavar="PATH", default=None,
                help="write results.json here (merged across xdist workers)")
    g.addoption("--expected-failures", dest="harness_expected", metavar="FILE", default=None,
                help="YAML baseline {client: [check id | scenario::check | scenario]}: listed failures "
                     "xfail (strict), stale entries fail")
    g.addoption("--step-timeout", dest="harness_step_timeout", metavar="SECONDS", default="30",
                help="per client step timeout (default 30); the scenario's timeout_s caps the whole run")
    g.addoption("--harness-seed", dest="harness_seed", metavar="N", default=None,
                help="recorded in results.json; scenarios are deterministic, property suites may use it")
    g.addoption("--mutant-scope", dest="harness_mutant_scope", metavar="own|all", default="own",
                choices=("own", "all"),
                help="which scenarios a mutant runs: own (default) = those with a check tied to the mutant's "
                     "catalogue id, which is what the mutation gate judges; all = every scenario (slow: "
                     "collateral findings too)")
    g.addoption("--property-mutants", dest="harness_property_mutants", action="store_true", default=False,
                help="also run the hypothesis machines (suites/properties) against mutant clients; off by "
                     "default because each mutant run costs tens of seconds (bench/property_detection.py "
                     "measures detection instead)")


def _usage(msg: str) -> pytest.UsageError:
    return pytest.UsageError(msg)


def _build_state(config: pytest.Config) -> HarnessState:
    from client_under_test.adapters.registry import UsageError, resolve

    names = list(config.getoption("harness_clients") or [])
    for cmd in config.getoption("harness_client_cmds") or []:
        if not cmd.strip():
            raise _usage("--client-cmd needs a command, e.g. --client-cmd 'python -m client_under_test'")
        names.append(f"cmd:{cmd.strip()}")
    try:
        adapters = resolve(names or ["reference"])
    except UsageError as exc:
        raise _usage(str(exc)) from None
    if not adapters:
        raise _usage(f"no client selected: {', '.join(names)} matched nothing (no mutants are defined yet?); "
                     "pick one with --client, e.g. --client reference")
    caps = config.getoption("harness_cmd_caps")
    if caps is not None:
        from client_under_test.adapters.cmd import CmdAdapter, parse_capabilities

        try:
            parsed = parse_capabilities(caps)
        except ValueError as exc:
            raise _usage(f"--cmd-capabilities: {exc}") from None
        for a in adapters:
            if isinstance(a, CmdAdapter):
                a.capabilities = parsed

    revs: list[str] = []
    for r in config.getoption("harness_revisions") or [DEFAULT_REVISION]:
        for one in (REVISIONS if r == "all" else [x.strip() for x in r.split(",") if x.strip()]):
            if one not in REVISIONS:
                raise _usage(f"--spec-revision {one!r} is unknown; use one of {', '.join(REVISIONS)} or 'all'")
            if one not in revs:
                revs.append(one)

    store = config.getoption("harness_store")
    if store not in STORES:
        raise _usage(f"--store {store!r} is unknown; use memory, sqlite or redis")
    effective, notes = store, []
    if store == "redis":
        from client_under_test.stores.redis_server import INSTALL_HINT, redis_server_binary

        if redis_server_binary() is None:
            effective = "sqlite"
            notes.append(f"--store redis: {INSTALL_HINT}; ran on sqlite instead")

    try:
        step_timeout = float(config.getoption("harness_step_timeout"))
        if step_timeout <= 0:
            raise ValueError
    except ValueError:
        raise _usage("--step-timeout must be a positive number of seconds") from None

    expectations = None
    if config.getoption("harness_expected"):
        try:
            expectations = Expectations.load(config.getoption("harness_expected"))
        except ExpectationsError as exc:
            raise _usage(str(exc)) from None

    results = config.getoption("harness_results")
    if results:
        results = str(Path(results).resolve())
    return HarnessState(adapters={a.name: a for a in adapters}, revisions=revs, store=store,
                        store_effective=effective, step_timeout_s=step_timeout, expectations=expectations,
                        results_path=results, seed=config.getoption("harness_seed"), notes=notes)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(id): a harness scenario test (generated by Scenario.as_test)")
    state = _build_state(config)
    if _is_worker(config):
        state.parts_dir = config.workerinput.get("harness_parts_dir")  # type: ignore[attr-defined]
    elif state.results_path:
        state.parts_dir = tempfile.mkdtemp(prefix="harness-results-parts-")
    state.run = run_record(clients=list(state.adapters), revisions=state.revisions,
                           store=state.store, store_effective=state.store_effective, seed=state.seed,
                           expected_failures=config.getoption("harness_expected"),
                           workers=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0))
    config.stash[STASH] = state


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker where to put its part of results.json."""
    state = node.config.stash.get(STASH, None)
    if state is not None and state.parts_dir:
        node.workerinput["harness_parts_dir"] = state.parts_dir


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STASH, None)
    if state is not None:
        state.close()


# -- scenario tests ------------------------------------------------------------------------------------

def make_scenario_test(scenario: Scenario) -> Callable[..., None]:
    def test(mcp_client: str, spec_revision: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        run_scenario_item(request, scenario, mcp_client, spec_revision, tmp_path)

    short = scenario.id.split("/", 1)[1].replace("-", "_")
    test.__name__ = test.__qualname__ = f"test_{short}"
    test.__doc__ = scenario.title
    test.__harness_scenario__ = scenario  # type: ignore[attr-defined]
    return test


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    scenario: Scenario | None = getattr(metafunc.function, "__harness_scenario__", None)
    if scenario is None:
        return
    state = metafunc.config.stash[STASH]
    own_only = metafunc.config.getoption("harness_mutant_scope") == "own"
    params = []
    for name in state.adapters:
        if own_only and not scenario_targets(scenario, name):
            continue
        for rev in state.revisions:
            marks: list[Any] = [getattr(pytest.mark, m) for m in scenario.markers]
            marks.append(pytest.mark.scenario(scenario.id))
            exp = state.expectations
            if exp is not None and exp.any_listed(name, scenario.id, [c.id for c in scenario.checks]):
                marks.append(pytest.mark.xfail(strict=True, raises=ExpectedCheckFailure,
                                               reason=f"listed in {exp.path}"))
            params.append(pytest.param(name, rev, marks=marks, id=f"{name}-{rev}"))
    metafunc.parametrize(("mcp_client", "spec_revision"), params)


def scenario_targets(scenario: Scenario, client: str) -> bool:
    """Whether the scenario judges this client under --mutant-scope own: every non-mutant client, and a
    mutant only where a check is tied to its own catalogue id (mutant:C08-... -> C08)."""
    if not client.startswith("mutant:"):
        return True
    cid = client.split(":", 1)[1].split("-", 1)[0]
    return any(req == cid or req.startswith(cid + ".") for c in scenario.checks for req in c.requirements)


def run_scenario_item(request: pytest.FixtureRequest, scenario: Scenario, client: str, revision: str,
                      tmp_path: Path) -> None:
    from harness.runner import run_scenario

    state = request.config.stash[STASH]
    adapter = state.adapters[client]
    rows = run_scenario(scenario, adapter, revision, state.store_arg(), tmp_path, step_timeout_s=state.step_timeout_s)
    exp = state.expectations
    listed = {r["check"]: (exp.listed(client, scenario.id, r["check"]) if exp else None) for r in rows}
    for r in rows:
        r["nodeid"] = request.node.nodeid
        r["expected_failure"] = bool(listed[r["check"]])
    for n in state.notes:
        for r in rows:
            if n not in r["notes"]:
                r["notes"].append(n)
    state.collector.add(rows, dict(scenario.knobs, **({"preset": scenario.preset} if scenario.preset else {})),
                        scenario.id)
    _allure(rows, scenario, client, revision)

    fails = [r for r in rows if r["status"] == "FAIL"]
    unexpected = [r for r in fails if not listed[r["check"]]]
    stale = [r for r in rows if listed[r["check"]] and r["status"] in ("PASS", "WARN", "INFO")]
    if unexpected:
        raise ScenarioFailed(failure_message(unexpected, client, revision))
    if stale:
        raise StaleExpectation("; ".join(
            f"stale expected failure {listed[r['check']]!r} for {client}: {r['check']} now {r['status']} "
            f"(remove it from {exp.path if exp else 'the baseline'})" for r in stale))
    if fails:
        raise ExpectedCheckFailure(failure_message(fails, client, revision))
    if rows and all(r["status"] == "SKIP" for r in rows):
        pytest.skip(rows[0]["message"])


def failure_message(rows: list[dict[str, Any]], client: str, revision: str) -> str:
    lines = [f"{client} @ {revision}: {len(rows)} check(s) failed"]
    for r in rows:
        lines.append(f"FAIL {r['scenario']}::{r['check']} [{', '.join(r['requirements'])}]: {r['message']}")
    r = rows[0]
    lines.append("journal excerpt (>> marks evidence):" if r.get("journal") else "journal: (empty)")
    lines.extend(journal_lines(r.get("journal") or [], set(r.get("highlight") or [])
                               | {e.get("seq") for e in r.get("evidence") or []}))
    errs = (r.get("outcome") or {}).get("errors") or []
    if errs:
        lines.append(f"client errors: {', '.join(errs[:5])}")
    if r.get("client_log"):
        lines.append("client log (tail):\n" + r["client_log"][-1500:])
    return "\n".join(lines)


def journal_lines(journal: list[dict[str, Any]], focus: set[Any], limit: int = 60) -> list[str]:
    try:
        from reports.labels import label_of
    except ImportError:  # pragma: no cover
        def label_of(e: dict[str, Any]) -> str:
            return f"{e.get('kind')} {e.get('endpoint') or ''}"
    chosen = journal
    if len(journal) > limit:
        idx = [i for i, e in enumerate(journal) if e.get("seq") in focus] or [len(journal) - 1]
        keep = sorted({j for i in idx for j in range(max(0, i - 5), min(len(journal), i + 6))})
        chosen = [journal[j] for j in keep][:limit]
    out = []
    for e in chosen:
        mark = ">>" if e.get("seq") in focus else "  "
        actor = f" [{e.get('actor')}]" if e.get("actor") else ""
        try:
            label = label_of(e)
        except Exception:  # a label is a nicety; never lose the failure over it
            label = f"{e.get('kind')} {e.get('endpoint') or ''}"
        out.append(f"{mark} #{e.get('seq')}{actor} {label}")
    return out


def _allure(rows: list[dict[str, Any]], scenario: Scenario, client: str, revision: str) -> None:
    if not rows:
        return
    reqs = sorted({q for r in rows for q in r["requirements"]})
    sev = "must" if any(r["severity"] == "must" for r in rows) else rows[0]["severity"]
    try:
        from reports import allure as rallure
    except ImportError:
        rallure = None
    try:
        if rallure is not None:
            rallure.label_check(client, reqs, _SEVERITY_TO_ALLURE.get(sev, "normal"), scenario=scenario.id,
                                revision=revision)
            for r in rows:
                if r["status"] in ("FAIL", "WARN"):
                    rallure.attach_verdict(r)
        else:  # pragma: no cover - reports/ is part of the project
            import allure

            allure.dynamic.label("client", client)
            for q in reqs:
                allure.dynamic.label("requirement", q)
    except Exception:  # labels must never change a verdict
        pass


# -- results -------------------------------------------------------------------------------------------

def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(STASH, None)
    if state is None:
        return
    exp = state.expectations
    if exp is not None:
        state.collector.expectations_used = [list(u) for u in exp.used]
    if _is_worker(config):
        if state.parts_dir:
            state.collector.notes.extend(n for n in state.notes if n not in state.collector.notes)
            state.collector.write_part(state.parts_dir, config.workerinput["workerid"])  # type: ignore[attr-defined]
        return
    if not state.results_path:
        return
    if state.parts_dir:
        state.collector.merge_parts(state.parts_dir)
        shutil.rmtree(state.parts_dir, ignore_errors=True)
    state.collector.notes.extend(n for n in state.notes if n not in state.collector.notes)
    run = dict(state.run)
    if any("ran on sqlite" in n for n in state.collector.notes):
        run["store_effective"] = "sqlite"
    write_results(state.results_path, run, state.collector)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STASH, None)
    if state is None or _is_worker(config):
        return
    tr = terminalreporter
    rows = state.collector.rows
    for n in state.collector.notes or state.notes:
        tr.write_line(f"harness: NOTE {n}", yellow=True)
    if state.results_path and rows:
        tr.write_line(f"harness: {summarize(rows)} -> {state.results_path}")
    exp = state.expectations
    if exp is not None:
        used = {tuple(u) for u in state.collector.expectations_used} | exp.used
        exp.used = {(a, b) for a, b in used}
        unused = exp.unused(list(state.adapters))
        if unused and rows:
            tr.write_line(f"harness: {len(unused)} baseline entr{'y' if len(unused) == 1 else 'ies'} in "
                          f"{exp.path} matched no check that ran: {'; '.join(unused[:5])}", yellow=True)
