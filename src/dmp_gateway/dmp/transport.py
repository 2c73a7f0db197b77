"""HTTP exchange of SOAP messages with the DMP, and the one place transport failures become `dmp.errors`.

Like httpx's `map_httpcore_exceptions`, `map_errors()` translates once, most specific first, always
`from exc` (notes/style.md §2.5; dmp-interfaces.md §9):

    ConnectError / ConnectTimeout / PoolTimeout    → Transient     (nothing was sent)
      ConnectError caused by an SSL error          → Configuration (certificate / TLS set-up)
    WriteError / WriteTimeout                      → Transient     (the request did not get through whole)
    ReadTimeout / ReadError / RemoteProtocolError  → OutcomeUnknown (sent; no answer)
    HTTP 502/503/504, 5xx without a SOAP body      → Transient
    SOAP Fault env:Receiver                        → Transient
    SOAP Fault env:Sender / MustUnderstand / …, 4xx → Permanent
    2xx whose body cannot be read                  → OutcomeUnknown (the DMP may have acted on it)
"""

from __future__ import annotations

import contextlib
import itertools
import ssl
from collections.abc import Iterator, Sequence

import httpcore
import httpx

from dmp_gateway.dmp.errors import Configuration, OutcomeUnknown, Permanent, Transient
from dmp_gateway.dmp.iti41 import CONFIGURATION_CODES
from dmp_gateway.dmp.mtom import MtomError, Part, build_mtom, parse_message
from dmp_gateway.dmp.namespaces import SERVICE_OF_ACTION
from dmp_gateway.dmp.soap import Envelope, SoapError, parse_envelope

_TRANSIENT_STATUSES = frozenset({502, 503, 504})


@contextlib.contextmanager
def map_errors() -> Iterator[None]:
    """Translate httpx and httpcore exceptions raised inside the block into `dmp.errors` (module docstring).

    The two trees have the same shape: httpx's when a caller injected an `httpx.AsyncClient` (tests,
    MockTransport), httpcore's from `ClientShards`, which talks to httpcore's pools directly."""
    try:
        yield
    except (httpx.ConnectTimeout, httpcore.ConnectTimeout) as exc:
        # A handshake cut short by the timeout is a slow or silent DMP, not a certificate problem,
        # even though ssl reports it as an SSLError (SSLWantReadError) on the way.
        raise Transient(f"cannot reach the DMP in time: {exc or 'connect timeout'}", code="CONNECT") from exc
    except (httpx.ConnectError, httpcore.ConnectError) as exc:
        if _is_tls_problem(exc):
            raise Configuration(f"TLS handshake with the DMP failed: {exc}", code="CERTIFICATE_ERROR") from exc
        raise Transient(f"cannot reach the DMP: {exc}", code="CONNECT") from exc
    except (httpx.PoolTimeout, httpcore.PoolTimeout) as exc:
        raise Transient("no free connection to the DMP", code="POOL_TIMEOUT") from exc
    except (httpx.WriteError, httpx.WriteTimeout, httpcore.WriteError, httpcore.WriteTimeout) as exc:
        raise Transient(f"the request could not be sent whole: {exc}", code="WRITE") from exc
    except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError,
            httpcore.ReadTimeout, httpcore.ReadError, httpcore.RemoteProtocolError) as exc:
        raise OutcomeUnknown(f"no answer from the DMP after sending: {type(exc).__name__}", code="NO_ANSWER") from exc


def _is_tls_problem(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) and not isinstance(
                seen, (ssl.SSLEOFError, ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLZeroReturnError)):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen) or "SSLV3_ALERT" in str(seen) or "TLSV1_ALERT" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ClientShards:
    """Several httpcore connection pools used in turn, requests sent straight to them.

    httpcore matches waiting requests to connections by walking both lists on every request event:
    with 64 requests in flight on one pool, that walk was 12 % of a worker's CPU when the DMP answered
    slowly (py-spy, end_to_end.py with 500 ms of latency). Pools of a few connections each keep it short.

    Requests skip httpx's client and transport: their layers (URL merging, cookies, the auth and
    redirect flows, event hooks, the request and response models) were a third of each DMP exchange's
    CPU (yappi, delivery_phases.py) and a SOAP call uses none of them. The pools are httpcore's
    (`network.AsyncioBackend` under them in production); errors stay httpcore's, as `map_errors`
    expects. Offers the two methods `SoapTransport` and `SoapDmp` use: `post` and `aclose`.
    """

    def __init__(self, pools: Sequence[httpcore.AsyncConnectionPool], timeout: httpx.Timeout | None = None) -> None:
        if not pools:
            raise ValueError("ClientShards needs at least one connection pool")
        self.pools = tuple(pools)
        self._timeout = (timeout or httpx.Timeout(30.0)).as_dict()
        self._turn = itertools.cycle(self.pools)

    async def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
        target = httpcore.URL(url)
        # What httpx's Request would add: h11 refuses a request without Host, and a body needs its length.
        sent = [(b"Host", target.host if target.port is None else b"%s:%d" % (target.host, target.port)),
                (b"Content-Length", str(len(content)).encode()),
                *((name.encode(), value.encode()) for name, value in headers.items())]
        request = httpcore.Request(b"POST", target, headers=sent, content=content,
                                   extensions={"timeout": self._timeout})
        response = await next(self._turn).handle_async_request(request)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return httpx.Response(response.status, headers=response.headers, content=body)

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


class SoapTransport:
    """Posts one SOAP 1.2 message to `<base>/<service>` and returns the answer's envelope."""

    def __init__(self, client: httpx.AsyncClient | ClientShards, base_url: str) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")

    def url_for(self, action: str) -> str:
        return f"{self.base_url}/{SERVICE_OF_ACTION[action]}"

    async def call(self, action: str, envelope: bytes, parts: Sequence[Part] = (), *, mtom: bool = False) -> Envelope:
        """Send and read back; raises `dmp.errors` only. A SOAP fault becomes Transient or Permanent."""
        if parts or mtom:
            message = build_mtom(envelope, parts, action=action)
            # One buffer: streamed in chunks, each became an h11 event, a TLS record flush and a send.
            headers, content = message.headers, message.to_bytes()
        else:
            headers = {"Content-Type": f'application/soap+xml; charset=UTF-8; action="{action}"'}
            content = envelope
        with map_errors():
            response = await self.client.post(self.url_for(action), content=content, headers=headers)
        return self._read(response)

    def _read(self, response: httpx.Response) -> Envelope:
        status = response.status_code
        try:
            parsed = parse_message(response.headers.get("content-type"), response.content)
            answer = parse_envelope(parsed.envelope)
        except (MtomError, SoapError) as exc:
            if status in _TRANSIENT_STATUSES or status >= 500:
                raise Transient(f"DMP answered HTTP {status}", code=f"HTTP_{status}", http_status=status) from exc
            if status >= 400:
                raise Permanent(f"DMP answered HTTP {status}", code=f"HTTP_{status}", http_status=status) from exc
            raise OutcomeUnknown(f"unreadable DMP answer: {exc}", code="UNREADABLE_ANSWER", http_status=status) from exc
        if answer.fault is not None:
            fault = answer.fault
            code = (fault.subcodes or (fault.code,))[-1]
            kind = Transient if fault.is_receiver or status in _TRANSIENT_STATUSES else Permanent
            if code.rsplit(":", 1)[-1] in CONFIGURATION_CODES:
                kind = Configuration
            raise kind(f"SOAP fault {fault.code}: {fault.reason}", code=code,
                       context=fault.reason, http_status=status)
        if status in _TRANSIENT_STATUSES or (status >= 500 and answer.body is None):
            raise Transient(f"DMP answered HTTP {status}", code=f"HTTP_{status}", http_status=status)
        if status >= 400 or answer.body is None:
            raise Permanent(f"DMP answered HTTP {status} without a usable body", code=f"HTTP_{status}",
                            http_status=status)
        return answer


__all__ = ["ClientShards", "SoapTransport", "map_errors"]
