"""`run_redis_server()`: a throwaway redis-server on a free loopback port, for tests and replicas."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_BINARY = "/usr/bin/redis-server"
INSTALL_HINT = "redis-server not installed: apt-get install redis-server"


class RedisServerUnavailable(RuntimeError):
    """No redis-server binary, or it did not come up."""


@dataclass(frozen=True)
class RedisServer:
    """A running server: ``url`` is ``redis://127.0.0.1:PORT/0``."""

    host: str
    port: int
    dir: str
    pid: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def redis_server_binary(binary: str | None = None) -> str | None:
    """The redis-server to run: ``binary``, ``$REDIS_SERVER``, /usr/bin/redis-server, or on PATH."""
    for cand in (binary, os.environ.get("REDIS_SERVER"), DEFAULT_BINARY):
        if cand and os.access(cand, os.X_OK):
            return cand
    return shutil.which("redis-server")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _is_ours(host: str, port: int, pid: int) -> bool:
    """The server on ``port`` answers and is process ``pid`` (not another redis that got the port)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"INFO server\r\n")
            buf = b""
            while b"process_id:" not in buf or not buf.split(b"process_id:", 1)[1].count(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    return False
                buf += chunk
            return int(buf.split(b"process_id:", 1)[1].split(b"\r\n", 1)[0]) == pid
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def run_redis_server(binary: str | None = None, *, startup_timeout_s: float = 10.0) -> Iterator[RedisServer]:
    """Start redis-server (no persistence, temp dir, 127.0.0.1), wait until it answers, stop it on exit.

    Raises `RedisServerUnavailable` (message: `INSTALL_HINT`) when there is no binary.
    """
    exe = redis_server_binary(binary)
    if exe is None:
        raise RedisServerUnavailable(INSTALL_HINT)
    host = "127.0.0.1"
    with tempfile.TemporaryDirectory(prefix="redis-") as tmp:
        last_log = ""
        for _attempt in range(3):  # the free port may be taken between probing and binding
            port = _free_port(host)
            log_path = os.path.join(tmp, f"redis-{port}.log")
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [exe, "--port", str(port), "--bind", host, "--dir", tmp, "--save", "",
                     "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                )  # fmt: skip
            deadline = time.monotonic() + startup_timeout_s
            up = False
            while proc.poll() is None and time.monotonic() < deadline:
                if up := _is_ours(host, port, proc.pid):
                    break
                time.sleep(0.02)
            if up:
                break
            _stop(proc)
            with open(log_path, errors="replace") as f:
                last_log = f.read()[-2000:]
        else:
            raise RedisServerUnavailable(f"redis-server did not start: {last_log}")
        try:
            yield RedisServer(host=host, port=port, dir=tmp, pid=proc.pid)
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
