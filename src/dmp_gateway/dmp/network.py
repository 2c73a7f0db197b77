"""httpcore's network layer on asyncio's own transports: the DMP connection's sockets and TLS.

httpcore (httpx's engine) reaches the network through a pluggable backend (`network_backend=` of
`httpcore.AsyncConnectionPool`). Its default on asyncio goes through anyio, whose TLS runs OpenSSL
through memory buffers in Python, and whose every read and write opens a cancel scope; its idle
check polls the socket with a system call before each request. For the worker's two DMP exchanges
per document that was about a quarter of its CPU (py-spy, benchmarks/delivery_phases.py).

This backend gives httpcore asyncio protocols instead: the event loop's TLS (uvloop's, in C, in the
worker), data handed over as it arrives, the idle check answered from what the protocol already
knows. HTTP itself stays httpcore's (h11, keep-alive, pooling); the errors are httpcore's own, so
`transport.map_errors` sees the same tree whichever backend ran.
"""

from __future__ import annotations

import asyncio
import ssl
import typing

import httpcore

#: Bytes buffered from the DMP before the protocol stops reading from the socket (answers are small;
#: an ITI-18 answer listing many documents is not).
_READ_HIGH_WATER = 256 * 1024


class _StreamProtocol(asyncio.Protocol):
    """Collects what arrives and wakes the one reader waiting for it (httpcore reads one at a time)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._reading_paused = False
        self._readable: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    # -- asyncio's callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close our side too: HTTP/1.1 has no use for a half-closed connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        self._wake_reader()
        self.resume_writing()  # wakes a writer, which then sees the connection is gone

    def pause_writing(self) -> None:
        self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # -- for the stream
    @property
    def readable(self) -> bool:
        return bool(self.buffer) or self.eof or self.error is not None

    def _wake_reader(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self._reading_paused and len(self.buffer) < _READ_HIGH_WATER // 2 and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def wait_readable(self, timeout: float | None) -> None:
        self._readable = asyncio.get_running_loop().create_future()
        try:
            await _within(self._readable, timeout)
        finally:
            self._readable = None

    async def wait_drained(self, timeout: float | None) -> None:
        if self._drained is not None:
            await _within(asyncio.shield(self._drained), timeout)
            if self.eof:
                raise self.error or ConnectionResetError("the connection closed while sending")


async def _within(future: asyncio.Future[None], timeout: float | None) -> None:
    """Await `future`, raising TimeoutError after `timeout` seconds (None: no limit).

    A timer on the loop rather than `asyncio.wait_for`, which wraps the future and adds a task turn
    to every read."""
    if timeout is None:
        await future
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, future)
    try:
        await future
    finally:
        timer.cancel()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection to the DMP: TCP, then TLS over it (`start_tls`)."""

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.readable:
            try:
                await protocol.wait_readable(timeout)
            except TimeoutError as exc:
                raise httpcore.ReadTimeout("no data from the DMP in time") from exc
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__) from protocol.error
        return b""  # the DMP closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection to the DMP is closed")
        self._transport.write(buffer)
        try:
            await self._protocol.wait_drained(timeout)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("the DMP did not take the request in time") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(self._transport, self._protocol, ssl_context, server_hostname=server_hostname,
                                       ssl_handshake_timeout=timeout)
        except TimeoutError as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout("TLS handshake with the DMP timed out") from exc
        except (ssl.SSLError, OSError) as exc:
            # OSError covers ConnectionResetError and the like: the peer hung up during the handshake.
            self._transport.abort()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if tls is None:  # the loop says the connection closed during the handshake
            raise httpcore.ConnectError("the DMP closed the connection during the TLS handshake")
        self._protocol.transport = tls
        return AsyncioStream(tls, self._protocol)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            # Asked of an idle kept-alive connection: anything readable means the server closed it
            # (or broke the protocol). The protocol knows without polling the socket.
            return self._protocol.readable or self._transport.is_closing()
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """`network_backend` for `httpcore.AsyncConnectionPool`: connections on the running asyncio loop."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        connecting = asyncio.get_running_loop().create_connection(_StreamProtocol, host, port, local_addr=local)
        return await _connect(connecting, f"{host}:{port}", timeout, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        connecting = asyncio.get_running_loop().create_unix_connection(_StreamProtocol, path)
        return await _connect(connecting, path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect(connecting: typing.Awaitable[tuple[asyncio.Transport, _StreamProtocol]], where: str,
                   timeout: float | None, options: typing.Iterable[httpcore.SOCKET_OPTION] | None) -> AsyncioStream:
    """Wait for a connection within `timeout`, with httpcore's errors, and apply the socket options."""
    try:
        transport, protocol = await asyncio.wait_for(connecting, timeout)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"cannot connect to {where} in time") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    sock = transport.get_extra_info("socket")
    for option in options or ():
        sock.setsockopt(*option)
    return AsyncioStream(transport, protocol)


__all__ = ["AsyncioBackend", "AsyncioStream"]
