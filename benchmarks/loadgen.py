"""A lean HTTP/1.1 load generator: one keep-alive connection per simulated client, on asyncio (uvloop).

Why not httpx for the load itself: on a 2-core machine shared with the server and PostgreSQL, the
generator's own CPU is taken from the system under test. httpx costs several hundred microseconds of
CPU per request; a Protocol fed by httptools (the parser uvicorn itself uses) with pre-built request
bytes costs a few tens. `--client httpx` keeps the httpx path to compare (api_throughput.py reports
the generator's CPU either way). Loopback only: the target URL is checked by the caller. `RawClient`
also speaks TLS (give it an `ssl.SSLContext`, e.g. with a client certificate for the DMP simulator).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

#: How long after the measured window a request may still be waiting for its answer.
GRACE_SECONDS = 30.0


class ConnectionLost(Exception):
    """The server closed the connection or it failed before a whole response arrived."""


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    location: bytes | None


class _Protocol(asyncio.Protocol):
    """One connection; one request in flight at a time (no pipelining), as a real API client does."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Reply] | None = None
        self.parts: list[bytes] = []
        self.location: bytes | None = None
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionLost(f"bad response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(ConnectionLost("connection closed by the server"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.parts, self.location = [], None

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) == 8 and name.lower() == b"location":
            self.location = value

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Reply(self.parser.get_status_code(), b"".join(self.parts), self.location))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class RawClient:
    """Keep-alive connection to host:port sending pre-built requests; reconnects after a close.

    With `tls`, the connection is TLS (asyncio's SSL transport; the handshake happens once per connection)."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.proto: _Protocol | None = None

    async def send(self, raw: bytes) -> Reply:
        if self.proto is None or self.proto.transport is None or not self.proto.keep_alive:
            await self.close()
            loop = asyncio.get_running_loop()
            _, self.proto = await loop.create_connection(_Protocol, self.host, self.port, ssl=self.tls)
        proto = self.proto
        proto.waiter = asyncio.get_running_loop().create_future()
        proto.transport.write(raw)  # type: ignore[union-attr]
        try:
            return await proto.waiter
        except ConnectionLost:
            self.proto = None
            raise

    async def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
        self.proto = None


class HttpxClient:
    """The same interface over httpx (one connection per client), to measure what httpx costs."""

    def __init__(self, host: str, port: int) -> None:
        import httpx

        self.client = httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=60,
                                        limits=httpx.Limits(max_connections=1))

    async def send(self, raw: bytes) -> Reply:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        method, target, _ = lines[0].split(" ")
        headers = dict(line.split(": ", 1) for line in lines[1:] if not line.lower().startswith(("host:", "content-length:")))
        r = await self.client.request(method, target, content=body or None, headers=headers)
        location = r.headers.get("location")
        return Reply(r.status_code, r.content, location.encode() if location else None)

    async def close(self) -> None:
        await self.client.aclose()


def build_request(method: str, url_path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """Wire bytes of one HTTP/1.1 request (keep-alive is the HTTP/1.1 default)."""
    lines = [f"{method} {url_path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"--url must be a plain-HTTP loopback address (http://127.0.0.1:PORT), not {url}")
    return parts.hostname, parts.port or 80


@dataclass
class Recorder:
    """Latencies per operation of the requests that completed inside the measured window."""

    window_start: float = 0.0
    window_end: float = float("inf")
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: dict[str, str] = field(default_factory=dict)

    def record(self, op: str, started: float, ended: float) -> None:
        """Requests count where they complete: throughput is completions in the window per second."""
        if self.window_start <= ended <= self.window_end:
            self.latencies.setdefault(op, []).append(ended - started)

    def error(self, op: str, what: str) -> None:
        if self.window_start <= time.perf_counter() <= self.window_end:
            self.errors[op] = self.errors.get(op, 0) + 1
            self.error_samples.setdefault(op, what[:300])


#: One simulated client's loop: (client, recorder, deadline) -> None.
Session = Callable[[object, Recorder, float], Awaitable[None]]


async def timed(client: RawClient | HttpxClient, rec: Recorder, op: str, raw: bytes, expect: int) -> Reply | None:
    """Send one request and record it; None (and an error counted) unless the status is `expect`."""
    started = time.perf_counter()
    try:
        reply = await client.send(raw)
    except (ConnectionLost, OSError) as exc:
        rec.error(op, f"{type(exc).__name__}: {exc}")
        return None
    ended = time.perf_counter()
    if reply.status != expect:
        rec.error(op, f"HTTP {reply.status}: {reply.body[:200].decode(errors='replace')}")
        return None
    rec.record(op, started, ended)
    return reply


def window(warmup: float, duration: float) -> Recorder:
    """A recorder whose measured window starts after `warmup` seconds from now and lasts `duration`."""
    now = time.perf_counter()
    return Recorder(window_start=now + warmup, window_end=now + warmup + duration)


async def run_clients(connections: int, make_client: Callable[[], RawClient | HttpxClient], session: Session,
                      rec: Recorder) -> None:
    """Run `connections` sessions, each on its own connection, until the recorder's window ends."""

    async def one(client: RawClient | HttpxClient) -> None:
        try:
            await session(client, rec, rec.window_end)
        finally:
            await client.close()

    tasks = [asyncio.ensure_future(one(make_client())) for _ in range(connections)]
    # Bounded in time even if the server stops answering: a request still open after the grace
    # period is cancelled and counted as an error.
    grace = max(0.0, rec.window_end - time.perf_counter()) + GRACE_SECONDS
    done, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
        rec.errors["unfinished"] = rec.errors.get("unfinished", 0) + 1
        rec.error_samples.setdefault("unfinished", f"no answer {GRACE_SECONDS:.0f} s after the end of the run")
    if pending:
        await asyncio.wait(pending)
    for task in done:
        task.result()  # a bug in a session must not pass silently
