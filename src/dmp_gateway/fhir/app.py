"""The HTTP application: route table, error handling, lifespan. Handlers live one concern per module."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from dmp_gateway.auth.errors import AuthError
from dmp_gateway.auth.routes import router as auth_router
from dmp_gateway.bootstrap import Services, open_services, run_delivery_worker
from dmp_gateway.config import Settings
from dmp_gateway import observability, serving
from dmp_gateway.fhir import binary, interactions, metadata, openapi, operations
from dmp_gateway.fhir.media import FHIR_JSON
from dmp_gateway.fhir.outcomes import FhirError, Issue, error, from_exception, outcome_json
from dmp_gateway.fhir.validation import RESOURCE_TYPES, load_models
from dmp_gateway.store.errors import StoreError

log = logging.getLogger(__name__)
BASE = "/fhir/v2"


def _bind(handler, resource_type: str):  # noqa: ANN001, ANN202
    async def endpoint(request: Request) -> Response:
        return await handler(request, resource_type, **request.path_params)
    endpoint.__name__ = f"{handler.__name__}_{resource_type}"
    return endpoint


async def _not_offered(request: Request) -> Response:
    raise error(405, "not-supported", "DELETE is not offered: resources are archived with an update instead")


def _plain(handler):  # noqa: ANN001, ANN202
    """A Starlette endpoint for `handler(request, **path_params)`.

    The handlers take the Request and do their own parsing, so FastAPI's request handler (dependency
    solving, exit stacks, response model) was pure per-request cost (docs/benchmarks.md).
    """
    if len(inspect.signature(handler).parameters) == 1:
        return handler

    async def endpoint(request: Request) -> Response:
        return await handler(request, **request.path_params)
    endpoint.__name__ = handler.__name__
    return endpoint


def add_fhir_routes(app: FastAPI) -> None:
    """The route table: one line per interaction, every resource type alike except Binary."""

    def route(path: str, handler, *, methods: list[str], name: str) -> None:  # noqa: ANN001
        app.router.add_route(path, _plain(handler), methods=methods, name=name)

    route(f"{BASE}/metadata", metadata.metadata, methods=["GET"], name="capabilities")
    route(f"{BASE}{openapi.PATH}", openapi.openapi_json, methods=["GET"], name="fhir_openapi")
    route(f"{BASE}/Binary", binary.create_binary, methods=["POST"], name="create_Binary")
    route(f"{BASE}/Binary/{{res_id}}", binary.read_binary, methods=["GET"], name="read_Binary")
    for rtype in RESOURCE_TYPES:
        if rtype != "Binary":
            route(f"{BASE}/{rtype}", _bind(interactions.create, rtype), methods=["POST"], name=f"create_{rtype}")
            route(f"{BASE}/{rtype}/{{res_id}}", _bind(interactions.read, rtype), methods=["GET"], name=f"read_{rtype}")
        route(f"{BASE}/{rtype}", _bind(interactions.search, rtype), methods=["GET"], name=f"search_{rtype}")
        route(f"{BASE}/{rtype}/{{res_id}}", _bind(interactions.update, rtype), methods=["PUT"], name=f"update_{rtype}")
        route(f"{BASE}/{rtype}/{{res_id}}", _not_offered, methods=["DELETE"], name=f"delete_{rtype}")
        route(f"{BASE}/{rtype}/{{res_id}}/_history", _bind(interactions.history, rtype), methods=["GET"],
              name=f"history_{rtype}")
        route(f"{BASE}/{rtype}/{{res_id}}/_history/{{version}}", _bind(interactions.vread, rtype), methods=["GET"],
              name=f"vread_{rtype}")
    for op in ("send", "retry", "cancel"):
        route(f"{BASE}/CommunicationRequest/{{res_id}}/${op}", _operation(op), methods=["POST"], name=f"op_{op}")
    route(f"{BASE}/CommunicationRequest/{{res_id}}/$timeline", operations.timeline, methods=["GET"], name="op_timeline")
    app.state.operations = operations.NAMES


def _operation(op: str):  # noqa: ANN202
    async def endpoint(request: Request) -> Response:
        return await operations.act(request, request.path_params["res_id"], op)
    endpoint.__name__ = f"operation_{op}"
    return endpoint


def _outcome_response(exc: FhirError) -> Response:
    return Response(exc.body(), exc.status, exc.headers, media_type=FHIR_JSON)


async def _handle_known(request: Request, exc: Exception) -> Response:
    mapped = from_exception(exc)
    if mapped is None:  # pragma: no cover - only known classes are registered
        raise exc
    return _outcome_response(mapped)


async def _handle_http(request: Request, exc: StarletteHTTPException) -> Response:
    code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
    text = {404: f"{request.url.path} is not a known endpoint or resource type",
            405: f"{request.method} is not supported on {request.url.path}"}.get(exc.status_code, str(exc.detail))
    return Response(outcome_json([Issue(code, text)]), exc.status_code, media_type=FHIR_JSON)


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    # Log the type and place only: messages of lower layers may quote patient data.
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    body = outcome_json([Issue("exception", "internal error; the request was not processed, retry later")])
    return Response(body, 500, media_type=FHIR_JSON)


def _report_worker_end(task: asyncio.Task) -> None:
    """A worker that dies must be loud: requests would pile up unprocessed."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("the in-process delivery worker stopped", exc_info=task.exception())


def create_app(settings: Settings, services: Services | None = None, *, dmp: object | None = None) -> FastAPI:
    """The API. With `services` given (tests), the lifespan uses them and leaves them open.

    With `settings.serve_runs_worker` (the embedded default), a delivery worker runs in the same
    process and event loop; `dmp` replaces the real DMP client (tests, demo).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or await open_services(settings)
        app.state.services = svc
        app.state.auth = svc.auth
        worker = None
        if settings.serve_runs_worker:
            worker = asyncio.create_task(run_delivery_worker(svc, dmp), name="delivery-worker")
            worker.add_done_callback(_report_worker_end)
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
            if services is None:
                await svc.close()

    app = FastAPI(title="dmp-gateway", version="0.1.0", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.trust_forwarded = settings.trust_forwarded_headers
    if services is not None:
        app.state.services, app.state.auth = services, services.auth
    app.include_router(auth_router)
    add_fhir_routes(app)
    observability.install(app)  # request id, access log, HTTP metrics; /metrics /healthz /readyz
    for cls in (FhirError, AuthError, StoreError):
        app.add_exception_handler(cls, _handle_known)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(Exception, _handle_unexpected)
    return app


def app_from_environment() -> FastAPI:
    """uvicorn factory for `dmp-gateway serve` with several worker processes."""
    settings = Settings()
    observability.configure_logging(settings)  # each uvicorn worker process configures its own logging
    app = create_app(settings)
    settle_heap()
    return app


def settle_heap() -> None:
    """Load every fhir.resources model, then freeze the heap (serving.settle_heap): the models are the
    bulk of the API's long-lived objects, so they must exist before the freeze."""
    load_models()
    serving.settle_heap()
