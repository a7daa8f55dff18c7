"""Benchmark: mock_as vs oauth2-mock-server (npm 9.3.0), same machine, same load generator (wrk or Python).

Prints requests/second, p99 latency and server CPU per request for three loads, per server, and the
ratio ours/theirs:

* ``discovery``: GET the AS metadata (ours: /.well-known/oauth-authorization-server; theirs:
  /.well-known/openid-configuration, the only discovery document it serves);
* ``token_code``: POST /token grant_type=authorization_code with PKCE (S256). Every request redeems a
  distinct code minted beforehand through /authorize (by the load generator, ``bench/wrk/mint.lua``);
* ``token_refresh``: POST /token grant_type=refresh_token under rotation. Every request presents the
  current refresh token of one of N live families and puts the new one back (``bench/wrk/chain.lua``).

Both servers run on loopback, one process each (ours: ``python -m mock_as serve --quiet``, a single uvicorn
worker on uvloop + httptools; theirs: its Node library on Node >= 22). wrk runs with one thread, so on a
2-core machine the server gets one core and the load generator the other.

Load generator (``--load-generator``, the same for both servers and every step of one run): ``wrk`` with
the lua scripts of ``bench/wrk/``, or ``python``, ``bench/pyload.py`` (asyncio + httpx, uvloop if installed,
in its own process), which runs the same workloads. ``auto`` (the default) takes wrk when it is on PATH.
The Python generator costs far more CPU per request than wrk, so its req/s are lower than wrk's and its
latencies include its own queueing: compare only the ratios ours/theirs. Even those only hold where the
generator is not the limit: a server faster than the generator shows the generator's rate, which pulls
the ratio towards 1 (or past it), so each Python row notes the server's and the generator's CPU use (a
server well below 100% was waiting for the generator). Server CPU per request also moves with the request
rate (less batching at a lower rate), so it is not comparable across generators either.

    python bench/mock_throughput.py [--duration 8] [--connections 16] [--only ours|theirs] [--variants]
                                    [--load-generator auto|wrk|python]

``--variants`` also measures ours with RS256 signing and with the per-request log line on (not --quiet).
Bounded: every load-generator run has a fixed duration, every target is 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
WRK_DIR = ROOT / "bench" / "wrk"
PYLOAD = ROOT / "bench" / "pyload.py"
REDIRECT = "http://127.0.0.1:9/cb"
VERIFIER = "bench-verifier-" + "x" * 40  # one verifier for every code: each code still has its own record
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Result:
    server: str
    load: str
    rps: float
    p99_ms: float
    p50_ms: float
    requests: int
    seconds: float
    errors: int
    cpu_ms_per_req: float = float("nan")
    note: str = ""
    generator: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Server:
    """A server subprocess (its own process group) on 127.0.0.1."""

    name = ""
    discovery_path = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Server:
        # never a pipe nobody reads: a full pipe would stall the server
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.cwd())
        wait_http(self.origin + self.discovery_path)
        return self

    def cwd(self) -> str | None:
        return None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "log", None) is not None:
            self.log.close()

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used (noise-robust, unlike wall-clock rps)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # -- what the loads need ---------------------------------------------------------------------
    def authorize_url(self) -> str:
        raise NotImplementedError

    def code_body(self, code: str) -> str:
        raise NotImplementedError

    def refresh_template(self) -> str:
        raise NotImplementedError

    def seed_refresh_tokens(self, n: int) -> list[str]:
        raise NotImplementedError


class Ours(Server):
    name = "mock_as"
    discovery_path = "/.well-known/oauth-authorization-server"

    def __init__(self, *extra: str, label: str = "mock_as") -> None:
        super().__init__()
        self.extra = list(extra)
        self.name = label
        self.client_id = ""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "mock_as", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--rotate-refresh-tokens", "--code-ttl", "10m", *self.extra]

    def cwd(self) -> str:
        return str(ROOT)

    def start(self) -> Ours:
        super().start()
        r = httpx.post(self.origin + "/register", json={
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "application_type": "native",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "client_name": "bench"})
        r.raise_for_status()
        self.client_id = r.json()["client_id"]
        return self

    def authorize_url(self) -> str:
        return self.origin + "/authorize?" + urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT, "state": "bench",
            "code_challenge": CHALLENGE, "code_challenge_method": "S256", "resource": self.origin + "/mcp"})

    def code_body(self, code: str) -> str:
        return urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                          "client_id": self.client_id, "code_verifier": VERIFIER, "resource": self.origin + "/mcp"})

    def refresh_template(self) -> str:
        return urlencode({"grant_type": "refresh_token", "client_id": self.client_id,
                          "resource": self.origin + "/mcp"}) + "&refresh_token={RT}"

    def seed_refresh_tokens(self, n: int) -> list[str]:
        out = []
        with httpx.Client(timeout=10) as c:
            for _ in range(n):
                loc = c.get(self.authorize_url()).headers["location"]
                code = re.search(r"[?&]code=([^&]+)", loc).group(1)  # type: ignore[union-attr]
                r = c.post(self.origin + "/token", content=self.code_body(code),
                           headers={"content-type": "application/x-www-form-urlencoded"})
                r.raise_for_status()
                out.append(r.json()["refresh_token"])
        return out


class Theirs(Server):
    name = "oauth2-mock-server"
    discovery_path = "/.well-known/openid-configuration"

    def __init__(self, node: str, alg: str = "ES256") -> None:
        super().__init__()
        self.node = node
        self.alg = alg

    def cwd(self) -> str:
        return os.environ.get("BENCH_NODE_DIR", str(ROOT / ".cache" / "bench-node"))

    def command(self) -> list[str]:
        return [self.node, "oauth2_mock_server.mjs", str(self.port), self.alg]

    def authorize_url(self) -> str:
        return self.origin + "/authorize?" + urlencode({
            "response_type": "code", "client_id": "bench", "redirect_uri": REDIRECT, "state": "bench",
            "code_challenge": CHALLENGE, "code_challenge_method": "S256"})

    def code_body(self, code: str) -> str:
        return urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                          "client_id": "bench", "code_verifier": VERIFIER})

    def refresh_template(self) -> str:
        return urlencode({"grant_type": "refresh_token", "client_id": "bench"}) + "&refresh_token={RT}"

    def seed_refresh_tokens(self, n: int) -> list[str]:
        out = []
        with httpx.Client(timeout=10) as c:
            for _ in range(n):
                loc = c.get(self.authorize_url()).headers["location"]
                code = re.search(r"[?&]code=([^&]+)", loc).group(1)  # type: ignore[union-attr]
                r = c.post(self.origin + "/token", content=self.code_body(code),
                           headers={"content-type": "application/x-www-form-urlencoded"})
                r.raise_for_status()
                out.append(r.json()["refresh_token"])
        return out


# -- wrk ------------------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(url: str, duration: float, connections: int, script: str | None = None,
            env: dict[str, str] | None = None) -> tuple[dict[str, float], str]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", str(WRK_DIR / script)]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                         timeout=duration + 60).stdout
    stats: dict[str, float] = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        stats["rps"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out):
        stats["requests"] = int(m.group(1))
        stats["seconds"] = _ms(m.group(2) + m.group(3)) / 1000
    for pct in ("50", "99"):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M):
            stats[f"p{pct}"] = _ms(m.group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    stats["errors"] = errors
    if "rps" not in stats:
        raise RuntimeError(f"wrk gave no figures for {url}:\n{out}")
    return stats, out


# -- the Python fallback: bench/pyload.py in its own process ---------------------------------------------

PYLOAD_WORKLOADS = {None: "get", "mint.lua": "mint", "pool.lua": "pool", "chain.lua": "chain"}


def run_pyload(url: str, duration: float, connections: int, script: str | None = None,
               env: dict[str, str] | None = None) -> tuple[dict[str, float], str]:
    """As run_wrk, with bench/pyload.py: the lua script's workload, the same $BENCH_* inputs and markers."""
    cmd = [sys.executable, str(PYLOAD), url, "--duration", f"{duration:g}", "--connections", str(connections),
           "--workload", PYLOAD_WORKLOADS[script], "--timeout", "10"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=duration + 60)
    if not (m := re.search(r"^PYLOAD (\{.*\})$", proc.stdout, re.M)):
        raise RuntimeError(f"pyload gave no figures for {url}:\n{proc.stdout}{proc.stderr}")
    return json.loads(m.group(1)), proc.stdout


LOAD_GENERATORS = {"wrk": run_wrk, "python": run_pyload}


def run_load(gen: str, url: str, duration: float, connections: int, script: str | None = None,
             env: dict[str, str] | None = None) -> tuple[dict[str, float], str]:
    """Every load of a run goes through here, so both servers always get the same generator."""
    return LOAD_GENERATORS[gen](url, duration, connections, script, env)


def mint_codes(gen: str, srv: Server, n: int, path: Path, connections: int) -> int:
    path.write_text("")
    _, out = run_load(gen, srv.authorize_url(), 120, connections, "mint.lua",
                      {"BENCH_CODES": str(path), "BENCH_N": str(n)})
    codes = [c for c in path.read_text().splitlines() if c]
    if len(codes) < n:
        print(f"  [{srv.name}] minted only {len(codes)} of {n} codes: {out.strip().splitlines()[-1]}")
    return len(codes)


def timed_load(srv: Server, stats_out: dict[str, float], *args: object, **kwargs: object) -> tuple[dict[str, float], str]:
    c0 = srv.cpu_s()
    stats, out = run_load(*args, **kwargs)  # type: ignore[arg-type]
    stats["cpu_s"] = srv.cpu_s() - c0
    stats_out.update(stats)
    return stats, out


def measure(gen: str, srv: Server, load: str, duration: float, connections: int, tmp: Path,
            expected_rps: float) -> Result:
    note = ""
    st: dict[str, float] = {}
    if load == "discovery":
        stats, _ = timed_load(srv, st, gen, srv.origin + srv.discovery_path, duration, connections)
    elif load == "token_code":
        # one code per request: size the pool from a first guess, with a margin; the run ends early if short
        n = int(expected_rps * duration * 1.3) + 1000
        codes_file = tmp / f"{srv.name}-codes.txt"
        t0 = time.perf_counter()
        minted = mint_codes(gen, srv, n, codes_file, connections)
        note = f"{minted} codes minted in {time.perf_counter() - t0:.1f} s"
        bodies = tmp / f"{srv.name}-code-bodies.txt"
        bodies.write_text("\n".join(srv.code_body(c) for c in codes_file.read_text().splitlines() if c) + "\n")
        stats, out = timed_load(srv, st, gen, srv.origin + "/token", duration, connections, "pool.lua",
                                {"BENCH_BODIES": str(bodies)})
        if "POOL_EXHAUSTED" in out:
            note += "; pool exhausted (the run ended early; rps is over the time it ran)"
    elif load == "token_refresh":
        seeds = srv.seed_refresh_tokens(2 * connections)
        bodies = tmp / f"{srv.name}-refresh.txt"
        bodies.write_text(srv.refresh_template() + "\n" + "\n".join(seeds) + "\n")
        stats, out = timed_load(srv, st, gen, srv.origin + "/token", duration, connections, "chain.lua",
                                {"BENCH_BODIES": str(bodies)})
        if m := re.search(r"CHAIN lost=(\d+) starved=(\d+)", out):
            note = f"{len(seeds)} families; lost={m.group(1)} starved={m.group(2)}"
            stats["errors"] += int(m.group(1))
    else:
        raise ValueError(load)
    if "generator_cpu" in stats:  # pyload: was the server the limit (busy), or the generator?
        busy = stats["cpu_s"] / stats["seconds"] if stats.get("seconds") else float("nan")
        cpus = f"server CPU {busy:.0%}, generator CPU {stats['generator_cpu']:.0%}"
        note = f"{note}; {cpus}" if note else cpus
    return Result(srv.name, load, stats["rps"], stats.get("p99", float("nan")), stats.get("p50", float("nan")),
                  int(stats.get("requests", 0)), stats.get("seconds", duration), int(stats["errors"]),
                  1000 * stats["cpu_s"] / max(1, stats.get("requests", 0)), note, gen)


LOADS = ("discovery", "token_code", "token_refresh")


def bench_server(srv: Server, args: argparse.Namespace, tmp: Path) -> list[Result]:
    results = []
    srv.start()
    try:
        run_load(args.load_generator, srv.origin + srv.discovery_path, 1, args.connections)  # warm-up
        for load in LOADS:
            guess = args.expect_rps.get(srv.name.split("[")[0], 3000.0)
            r = measure(args.load_generator, srv, load, args.duration, args.connections, tmp, guess)
            results.append(r)
            print(f"  {r.server:<26} {r.load:<14} {r.rps:>7.0f} req/s  p50 {r.p50_ms:>7.2f} ms  "
                  f"p99 {r.p99_ms:>7.2f} ms  cpu {r.cpu_ms_per_req:.3f} ms/req  errors {r.errors}  {r.note}",
                  flush=True)
    finally:
        srv.stop()
    return results


def best(results: list[Result]) -> dict[tuple[str, str], Result]:
    """Per server and load, the round with the highest rps (the machine is shared: noise only slows)."""
    out: dict[tuple[str, str], Result] = {}
    for r in results:
        key = (r.server, r.load)
        if key not in out or r.rps > out[key].rps:
            out[key] = r
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=8.0, help="seconds per load-generator run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2, help="alternate the servers this many times; keep the best")
    ap.add_argument("--only", choices=["ours", "theirs"], default=None)
    ap.add_argument("--variants", action="store_true", help="also ours with RS256, and with the request log")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--load-generator", choices=["auto", "wrk", "python"], default="auto",
                    help="wrk (bench/wrk/*.lua) or python (bench/pyload.py: asyncio + httpx, much slower, so "
                         "lower absolute figures: compare only the ratios ours/theirs, and only where both servers "
                         "were busy); auto: wrk if on PATH, else python")
    args = ap.parse_args()
    args.expect_rps = {"mock_as": 1500.0, "oauth2-mock-server": 400.0}
    if args.load_generator == "auto":
        args.load_generator = "wrk" if shutil.which("wrk") else "python"
    if args.load_generator == "wrk":
        if shutil.which("wrk") is None:
            print("wrk is not installed (apt-get install wrk); without it, use --load-generator python or auto")
            return 2
        print(f"load generator: wrk ({shutil.which('wrk')})")
        gen_line = f"wrk -t1 -c{args.connections} -d{args.duration:g}s"
    else:
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        print(f"load generator: python (bench/pyload.py, httpx on {loop}, own process); its absolute figures are "
              "lower than wrk's, so only the ratio ours/theirs is comparable, and only where both servers were "
              "busy (server CPU in each row): a server faster than the generator shows the generator's rate")
        gen_line = f"python bench/pyload.py -c{args.connections} -d{args.duration:g}s ({loop})"
    node = ""
    if args.only != "ours":
        inst = subprocess.run([str(ROOT / "bench" / "node" / "install.sh")], capture_output=True, text=True)
        node = inst.stdout.strip() if inst.returncode == 0 else ""
        if not node:
            print(f"oauth2-mock-server unavailable: {inst.stderr.strip()}")
    print(f"load generator {args.load_generator}: {gen_line}, {args.rounds} round(s), {os.cpu_count()} cores, "
          f"load average before: {os.getloadavg()[0]:.1f}; loopback only")
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}")
            if args.only != "theirs":
                results += bench_server(Ours("--quiet"), args, tmp)
                if args.variants:
                    results += bench_server(Ours("--quiet", "--signing-alg", "RS256", label="mock_as[RS256]"),
                                            args, tmp)
                    results += bench_server(Ours(label="mock_as[request log on]"), args, tmp)
            if node:
                results += bench_server(Theirs(node), args, tmp)
    by = best(results)
    print(f"\nbest of {args.rounds} round(s), load generator {args.load_generator}; "
          f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"{'load':<14} {'mock_as req/s':>13} {'p99 ms':>8} {'cpu ms/req':>10} | {'oauth2-mock-server req/s':>24} "
          f"{'p99 ms':>8} {'cpu ms/req':>10} | {'rps ratio':>9} {'p99 ratio':>9}")
    for load in LOADS:
        a, b = by.get(("mock_as", load)), by.get(("oauth2-mock-server", load))
        if a and b:
            print(f"{load:<14} {a.rps:>13.0f} {a.p99_ms:>8.2f} {a.cpu_ms_per_req:>10.3f} | {b.rps:>24.0f} "
                  f"{b.p99_ms:>8.2f} {b.cpu_ms_per_req:>10.3f} | {a.rps / b.rps:>9.2f} {a.p99_ms / b.p99_ms:>9.2f}")
        elif a:
            print(f"{load:<14} {a.rps:>13.0f} {a.p99_ms:>8.2f} {a.cpu_ms_per_req:>10.3f}")
    for (server, load), r in sorted(by.items()):
        if server.startswith("mock_as["):
            print(f"variant {server:<26} {load:<14} {r.rps:>7.0f} req/s  p99 {r.p99_ms:.2f} ms  "
                  f"cpu {r.cpu_ms_per_req:.3f} ms/req")
    print("rps ratio = mock_as / oauth2-mock-server (> 1: ours is faster); "
          "p99 ratio = mock_as / oauth2-mock-server (< 1: ours is faster)")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
