"""Pure-Python closed-loop HTTP load generator: the fallback of ``bench/mock_throughput.py`` without wrk.

``connections`` workers, each with its own ``httpx.AsyncClient`` holding one keep-alive connection, send
one request at a time (closed loop) for ``duration`` seconds, on uvloop when it is installed. The figures
have the shape ``run_wrk`` returns: ``rps``, ``requests``, ``seconds``, ``p50`` and ``p99`` (ms), ``errors``
(responses outside 2xx/3xx plus transport errors and timeouts), and one more, ``generator_cpu``: the CPU
the generator itself used over the run, as a fraction of one core. Like wrk, only responses that arrive
before the end count: requests still in flight at the end are dropped.

The workloads are the ``bench/wrk/*.lua`` scripts, with the same inputs (``$BENCH_*`` by default) and the
same marker lines at the end of the output:

* ``get``: GET the URL (no script);
* ``mint`` (``mint.lua``): GET the /authorize URL without following redirects, take ``code`` from the
  Location header with the same pattern (``[?&]code=([^&]+)``, not URL-decoded), append it to
  ``$BENCH_CODES`` and end the run once ``$BENCH_N`` codes have come back; prints ``MINT got=.. bad=..``;
* ``pool`` (``pool.lua``): POST each non-empty line of ``$BENCH_BODIES`` exactly once as a form body;
  ends the run when the pool runs out and prints ``POOL_EXHAUSTED``;
* ``chain`` (``chain.lua``): line 1 of ``$BENCH_BODIES`` is a form body with ``{RT}``, each further line a
  refresh token (one family). Each request takes the token at the head of the queue; a 200 whose body has a
  ``"refresh_token"`` puts the new token at the tail, any other response counts as ``lost``. A request that
  finds the queue empty counts as ``starved`` and ends the run; prints ``CHAIN lost=.. starved=..``.

One difference from wrk, in the way a run ends early: the lua scripts still send a request after calling
finish_run() (pool.lua replays the last body, chain.lua sends ``refresh_token=starved``), and whether its
error response is counted depends on when wrk handles the SIGINT; here no request is sent once the run has
ended. As with wrk, a transport error in ``chain`` drops that family's token without counting it as lost
(it counts in errors).

The generator is much slower than wrk: about 0.7-1.3 ms of CPU per request on the 2-core bench VM, against
a few µs, so it tops out around 1,000-1,500 req/s there, and its latencies include its own queueing. Run it
in its own process (``mock_throughput.py`` does) so it shares no GIL with anything:

    python bench/pyload.py URL [--duration 8] [--connections 16] [--workload get|mint|pool|chain]

Output: a summary line, then ``PYLOAD {json figures}``, then the workload's marker line, if any.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import re
import ssl
import sys
import time
from collections import deque
from pathlib import Path

# httpcore 1.0 asks sniffio which event loop runs, with `import sniffio` on every request. Without sniffio
# installed, each of those imports searches sys.path again (about a third of the generator's CPU); a None entry
# makes the import fail at once, and httpcore then assumes asyncio, which is right here.
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

import httpx  # noqa: E402

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is optional
    uvloop = None

FORM = {"content-type": "application/x-www-form-urlencoded"}
CODE_RE = re.compile(r"[?&]code=([^&]+)")  # mint.lua: loc:match("[?&]code=([^&]+)")
REFRESH_RE = re.compile(r'"refresh_token"\s*:\s*"([^"]+)"')  # chain.lua: body:match(...)
WORKLOADS = ("get", "mint", "pool", "chain")
LOOP = "uvloop" if uvloop is not None else "asyncio"


def _lines(path: str) -> list[str]:
    """The lines of a file as lua's io.lines gives them (split on \\n only, no trailing empty line)."""
    text = Path(path).read_text()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


class Workload:
    """What each request sends and what each response does; ``finish()`` ends the run (lua: finish_run())."""

    method = "GET"
    headers: dict[str, str] = {}

    def __init__(self) -> None:
        self.stop = asyncio.Event()

    def finish(self) -> None:
        self.stop.set()

    def request(self) -> bytes | None:
        """The body of the next request (None: no body). If it calls finish(), no request is sent."""
        return None

    def on_response(self, response: httpx.Response) -> None:
        pass

    def report(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


class Get(Workload):
    pass


class Mint(Workload):
    def __init__(self, codes_path: str, want: int) -> None:
        super().__init__()
        self.out = open(codes_path, "a")  # noqa: SIM115 - closed in close(), like mint.lua's io.open
        self.want = want
        self.got = self.bad = 0
        self.finished = False

    def on_response(self, response: httpx.Response) -> None:
        m = CODE_RE.search(response.headers.get("location", ""))
        if m:
            self.got += 1
            self.out.write(m.group(1) + "\n")
            if self.got % 200 == 0:
                self.out.flush()
            if self.got >= self.want and not self.finished:
                self.finished = True
                self.out.flush()
                self.finish()
        else:
            self.bad += 1

    def report(self) -> list[str]:
        return [f"MINT got={self.got} bad={self.bad}"]

    def close(self) -> None:
        self.out.close()


class Pool(Workload):
    method = "POST"
    headers = FORM

    def __init__(self, bodies_path: str) -> None:
        super().__init__()
        self.bodies = [line.encode() for line in _lines(bodies_path) if line]
        self.i = 0
        self.exhausted = False

    def request(self) -> bytes | None:
        if self.i >= len(self.bodies):
            self.exhausted = True
            self.finish()
            return None
        self.i += 1
        return self.bodies[self.i - 1]

    def report(self) -> list[str]:
        return ["POOL_EXHAUSTED"] if self.exhausted else []


class Chain(Workload):
    method = "POST"
    headers = FORM

    def __init__(self, bodies_path: str) -> None:
        super().__init__()
        lines = _lines(bodies_path)
        self.template = lines[0]
        self.queue = deque(line for line in lines[1:] if line)
        self.lost = self.starved = 0

    def request(self) -> bytes | None:
        if not self.queue:  # chain.lua: the first starved request ends the run
            self.starved += 1
            self.finish()
            return None
        return self.template.replace("{RT}", self.queue.popleft()).encode()

    def on_response(self, response: httpx.Response) -> None:
        m = REFRESH_RE.search(response.text)
        if response.status_code == 200 and m:
            self.queue.append(m.group(1))
        else:
            self.lost += 1

    def report(self) -> list[str]:
        return [f"CHAIN lost={self.lost} starved={self.starved}"]


def make_workload(name: str, codes: str | None = None, n: int | None = None,
                  bodies: str | None = None) -> Workload:
    if name == "get":
        return Get()
    if name == "mint":
        if not codes or n is None:
            raise ValueError("mint needs a codes file and a count (--codes/$BENCH_CODES, --n/$BENCH_N)")
        return Mint(codes, n)
    if name in ("pool", "chain"):
        if not bodies:
            raise ValueError(f"{name} needs a bodies file (--bodies/$BENCH_BODIES)")
        return Pool(bodies) if name == "pool" else Chain(bodies)
    raise ValueError(f"unknown workload {name!r}")


class _Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.status_errors = 0
        self.transport_errors = 0


async def _worker(client: httpx.AsyncClient, url: str, wl: Workload, tally: _Tally) -> None:
    clock = time.perf_counter
    while not wl.stop.is_set():
        body = wl.request()
        if wl.stop.is_set():
            return
        t0 = clock()
        try:
            response = await client.request(wl.method, url, content=body, headers=wl.headers)
        except httpx.HTTPError:  # connect/read/write errors and timeouts, as wrk's socket errors
            tally.transport_errors += 1
            continue
        tally.latencies.append(clock() - t0)
        if not 200 <= response.status_code < 400:
            tally.status_errors += 1
        wl.on_response(response)


def _percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(pct / 100 * len(sorted_values)) - 1)]


async def run(url: str, duration: float, connections: int, wl: Workload,
              timeout: float = 10.0) -> dict[str, float]:
    """Drive ``url`` for ``duration`` seconds (less if the workload ends the run); the figures of wrk."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    tls = ssl.create_default_context()  # one for all clients: each would load the CA bundle again (~40 ms)
    # trust_env=False: no proxy from the environment between us and 127.0.0.1
    clients = [httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False, verify=tls)
               for _ in range(connections)]
    tally = _Tally()
    t0, cpu0 = time.perf_counter(), time.process_time()
    tasks = [asyncio.create_task(_worker(c, url, wl, tally)) for c in clients]
    stopper = asyncio.create_task(wl.stop.wait())
    try:
        await asyncio.wait([stopper, *tasks], timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        wl.stop.set()
        # freeze the figures now: what completes after the end does not count (as in wrk)
        latencies = sorted(tally.latencies)
        errors = tally.status_errors + tally.transport_errors
    finally:
        for t in (stopper, *tasks):
            t.cancel()
        await asyncio.gather(stopper, *tasks, return_exceptions=True)
        for c in clients:
            await c.aclose()
        wl.close()
    for t in tasks:  # a worker that died of a bug must not pass for a quiet run
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]
    stats: dict[str, float] = {"requests": len(latencies), "seconds": seconds,
                               "rps": len(latencies) / seconds if seconds > 0 else 0.0, "errors": errors,
                               "generator_cpu": cpu / seconds if seconds > 0 else 0.0}
    if latencies:
        stats["p50"] = 1000 * _percentile(latencies, 50)
        stats["p99"] = 1000 * _percentile(latencies, 99)
    return stats


def run_sync(url: str, duration: float, connections: int, wl: Workload,
             timeout: float = 10.0) -> dict[str, float]:
    """``run`` in a fresh event loop, uvloop's if installed."""
    coro = run(url, duration, connections, wl, timeout)
    return uvloop.run(coro) if uvloop is not None else asyncio.run(coro)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--duration", type=float, default=8.0, help="seconds (the workload may end it earlier)")
    ap.add_argument("--connections", type=int, default=16, help="workers, one keep-alive connection each")
    ap.add_argument("--workload", choices=WORKLOADS, default="get")
    ap.add_argument("--timeout", type=float, default=10.0, help="per request, seconds (wrk --timeout)")
    ap.add_argument("--codes", default=os.environ.get("BENCH_CODES"), help="mint: append codes here")
    n_env = os.environ.get("BENCH_N")
    ap.add_argument("--n", type=int, default=int(n_env) if n_env else None, help="mint: stop after N codes")
    ap.add_argument("--bodies", default=os.environ.get("BENCH_BODIES"), help="pool/chain: the input file")
    args = ap.parse_args(argv)
    try:
        wl = make_workload(args.workload, args.codes, args.n, args.bodies)
    except ValueError as e:
        print(f"pyload: {e}", file=sys.stderr)
        return 2
    stats = run_sync(args.url, args.duration, args.connections, wl, args.timeout)
    print(f"pyload ({LOOP}) {args.workload} -c{args.connections}: {stats['requests']:.0f} requests in "
          f"{stats['seconds']:.2f} s, {stats['rps']:.0f} req/s, p50 {stats.get('p50', float('nan')):.2f} ms, "
          f"p99 {stats.get('p99', float('nan')):.2f} ms, errors {stats['errors']:.0f}, "
          f"generator CPU {stats['generator_cpu']:.0%} of a core")
    print("PYLOAD " + json.dumps(stats))
    for line in wl.report():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
