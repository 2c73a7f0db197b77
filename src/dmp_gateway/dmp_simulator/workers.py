"""`dmp-gateway dmp-sim --workers N`: N processes serving one port, for throughput beyond one core.

Each worker is a spawned process with its own app and its own listening socket bound with SO_REUSEPORT, so the
kernel spreads new connections over the workers. (uvicorn's supervisor shares one socket, and uvloop accepts
every pending connection at once: in benchmarks/dmp_sim.py, a burst of 16 keep-alive connections all went to
one worker in two runs of three.) The fault plan and the counters the workers share live in PostgreSQL (state.py); the
start-up plan is published there before they start.

The supervisor says on stderr when every worker has started, stops them all on SIGINT/SIGTERM, and stops them
all (exit status 1) when one of them dies: a simulator that silently lost a worker would be harder to trust
than one that stops.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Semaphore

import psycopg
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dmp_gateway.dmp_simulator.config import SimulatorConfig

#: Seconds a worker may take to start (imports, XSD compilation, the pool's first connection).
STARTUP_SECONDS = 120.0
#: Seconds a worker has to finish its requests after SIGTERM.
STOP_SECONDS = 30.0


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT (not listening yet)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("--workers needs SO_REUSEPORT, which this system does not have")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def run_workers(config: SimulatorConfig) -> None:
    """Serve with `config.workers` processes until SIGINT/SIGTERM; SystemExit when a worker fails."""
    from dmp_gateway.dmp_simulator.server import ready_message
    from dmp_gateway.dmp_simulator.state import publish_startup_state

    # Bound here first: an address in use fails now, and port 0 becomes the one port every worker binds.
    try:
        reserved = reuse_port_socket(config.host, config.port)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"the DMP simulator cannot listen on {config.host}:{config.port}: {exc}") from None
    config = replace(config, port=reserved.getsockname()[1])
    try:
        asyncio.run(publish_startup_state(config.database_url, config.faults))
    except psycopg.OperationalError as exc:
        reserved.close()
        raise SystemExit(f"the DMP simulator's database cannot be reached: {exc}") from None
    context = multiprocessing.get_context("spawn")
    started = context.Semaphore(0)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    workers = [context.Process(target=_serve, args=(config, started), name=f"dmp-sim-worker-{i + 1}")
               for i in range(config.workers)]
    failure = None
    try:
        for worker in workers:
            worker.start()
        failure = _wait_started(workers, started, stop)
        if failure is None and not stop.is_set():
            print(ready_message(config), file=sys.stderr, flush=True)
        while failure is None and not stop.wait(0.5):
            dead = [w for w in workers if not w.is_alive()]
            if dead:
                failure = f"DMP simulator worker {dead[0].name} stopped (exit status {dead[0].exitcode})"
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for worker in workers:
            worker.join(STOP_SECONDS)
            if worker.is_alive():
                worker.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        reserved.close()
    if failure is not None:
        raise SystemExit(failure)


def _wait_started(workers: list[BaseProcess], started: Semaphore, stop: threading.Event) -> str | None:
    """None once every worker has started (or a stop was asked for); else what went wrong."""
    deadline = time.monotonic() + STARTUP_SECONDS
    waiting = len(workers)
    while waiting and not stop.is_set():
        if started.acquire(timeout=0.2):
            waiting -= 1
        elif time.monotonic() > deadline:
            return f"a DMP simulator worker did not start within {STARTUP_SECONDS:.0f} s"
        elif any(not w.is_alive() for w in workers):
            return "a DMP simulator worker could not start (its error is above)"
    return None


def _serve(config: SimulatorConfig, started: Semaphore) -> None:
    """One worker: its own SO_REUSEPORT socket on the port, uvicorn, the app (which releases `started`)."""
    from dmp_gateway.dmp_simulator.server import AppFactory, uvicorn_config

    class WorkerApp(AppFactory):
        def __call__(self) -> ASGIApp:
            return _TellStarted(super().__call__(), started)

    sock = reuse_port_socket(config.host, config.port)
    sock.listen(2048)
    uvicorn.Server(uvicorn_config(config, app=WorkerApp(config), factory=True)).run(sockets=[sock])


class _TellStarted:
    """ASGI wrapper of a worker's app: releases `started` once the lifespan start-up has completed."""

    def __init__(self, app: ASGIApp, started: Semaphore) -> None:
        self.app, self.started = app, started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_and_tell(message: Message) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                self.started.release()

        await self.app(scope, receive, send_and_tell)
