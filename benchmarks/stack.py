"""The API benchmark's system under test: `dmp_gateway.local_stack.LocalStack` with the gateway only
(embedded PostgreSQL in a temporary data dir, `dmp-gateway serve --workers N`), plus the process
lists whose CPU and memory the benchmark reports.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

from dmp_gateway.local_stack import LocalStack

BENCH_SCOPES = " ".join(f"{t}_{i}" for t in ("PATIENT", "BINARY", "DOCUMENTREFERENCE", "PRACTITIONER")
                        for i in ("CREATE", "READ"))


@dataclass
class Stack:
    """A running gateway: its URL, a token, and the processes whose CPU and memory we report."""

    url: str
    token: str
    local: LocalStack | None = None

    def gateway_processes(self) -> list[psutil.Process]:
        if self.local is None or self.local.gateway is None:
            return []
        return _tree(self.local.gateway.popen.pid)

    def postgres_processes(self) -> list[psutil.Process]:
        if self.local is None:
            return []
        pidfile = self.local.data_dir / "pg" / "postmaster.pid"
        if not pidfile.exists():
            return []
        return _tree(int(pidfile.read_text().split()[0]))

    def stop(self) -> None:
        if self.local is not None:
            self.local.stop()


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def start_stack(workers: int, server_env: dict[str, str]) -> Stack:
    """Embedded PostgreSQL, a workspace, a token and `dmp-gateway serve --workers N`, all in a temp dir.

    Server settings are the defaults (the access log included) unless --server-env says otherwise.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="dmpgw-bench-"))
    local = LocalStack(data_dir, gateway_only=True,
                       env={"DMPGW_LOG_LEVEL": "info", "DMPGW_WORKERS": str(workers), **server_env})
    local.start()
    try:
        created = json.loads(local.cli("workspace", "create", "--name", "Benchmark", "--json").strip().splitlines()[-1])
        token = local.token(created["workspace"], ["Practitioner/bench"], BENCH_SCOPES)
    except BaseException:
        local.stop()
        raise
    return Stack(url=local.gateway_url, token=token, local=local)
