"""Serving an ASGI app from a command so that SIGTERM/SIGINT end in a normal exit.

uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which kills the process before
`atexit` handlers run, and one of them stops the embedded PostgreSQL. This server only asks itself
to exit, so the command returns and the embedded server is released. It also says on stderr when it
listens, so scripts and tests can wait for that line instead of polling.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
from collections.abc import Iterator

import uvicorn

from dmp_gateway import allocator


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready_message: str) -> None:
        super().__init__(config)
        self.ready_message = ready_message

    async def startup(self, sockets=None) -> None:  # noqa: ANN001 - uvicorn's signature
        await super().startup(sockets)
        if self.started:
            print(self.ready_message, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


#: gc thresholds of a server process (Python's default is 700, 10, 10); see settle_heap.
_GC_THRESHOLDS = (10_000, 10, 10)


def settle_heap() -> None:
    """Keep the cyclic garbage collector off the long-lived heap of a server process (call once started).

    Objects of requests in flight survive young collections, so full collections came every second or
    so and walked the whole heap of models, compiled schemas and value sets: 20-180 ms pauses in the
    API (its p99, benchmarks/api_throughput.py) and 4 % of the simulator's CPU (benchmarks/dmp_sim.py).
    Frozen objects are never scanned again; a larger first threshold lets request objects die first.
    The documents' buffers are kept in the heap from then on (dmp_gateway.allocator).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)
    allocator.keep_large_buffers()
