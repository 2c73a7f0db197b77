"""The simulated DMP as an ASGI app: `/si-dmp-server/v2/services/{patients,repository,registry}` + `/_sim`.

Each SOAP endpoint: count and draw the fault decision (state.py), read the body, split MTOM, check the envelope and
WS-Addressing, run the transaction handler, answer in the request's packaging with RelatesTo and the response
action (dmp-interfaces.md §2.2, §4.1). Rule failures become RegistryResponse Failure / HL7 AE answers
(HTTP 200); unusable messages become SOAP 1.2 faults (HTTP 500, as the DMP answers them).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio
from cryptography import x509
from lxml import etree
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator import rejections as codes
from dmp_gateway.dmp_simulator.admin import admin_routes
from dmp_gateway.dmp_simulator.config import SimulatorConfig
from dmp_gateway.dmp_simulator.connection import DropConnection, DropMiddleware, peer_certificate
from dmp_gateway.dmp_simulator.faults import Decision, Fault
from dmp_gateway.dmp_simulator.iti18 import handle_iti18
from dmp_gateway.dmp_simulator.iti41 import handle_iti41
from dmp_gateway.dmp_simulator.iti57 import handle_iti57
from dmp_gateway.dmp_simulator.mtom import SoapPackage, build_response, parse_request
from dmp_gateway.dmp_simulator.rejections import Rejected, RegistryErrorSpec, SoapFault
from dmp_gateway.dmp_simulator.responses import query_response, registry_response
from dmp_gateway.dmp_simulator.simulator import Simulator
from dmp_gateway.dmp_simulator.soap import SoapRequest, build_envelope, build_fault, parse_envelope
from dmp_gateway.dmp_simulator.td02 import handle_td02
from dmp_gateway.dmp_simulator.vihf import check_vihf

#: Request actions each service accepts.
ACTIONS = {
    ns.SERVICE_PATIENTS: (ns.ACTION_TD02,),
    ns.SERVICE_REPOSITORY: (ns.ACTION_ITI41,),
    ns.SERVICE_REGISTRY: (ns.ACTION_ITI18, ns.ACTION_ITI57),
}


def create_app(config: SimulatorConfig) -> Starlette:
    """A new simulator; `app.state.simulator` gives tests access to its state."""
    sim = Simulator(config)

    @asynccontextmanager
    async def lifespan(app: Starlette):  # noqa: ANN202 - Starlette lifespan
        await sim.ready_registry()
        yield
        await sim.aclose()

    base = config.base_path.rstrip("/")
    routes = [Route(f"{base}/{service}", _endpoint(sim, service), methods=["POST"]) for service in ACTIONS]
    app = Starlette(routes=[*routes, *admin_routes(sim)], lifespan=lifespan, middleware=[Middleware(DropMiddleware)])
    app.state.simulator = sim
    return app


def _endpoint(sim: Simulator, service: str):  # noqa: ANN202 - a Starlette endpoint
    async def endpoint(request: Request) -> Response:
        decision = await sim.state.begin(service)
        if decision.delay_seconds:
            await sim.state.count("faults.latency")
            await anyio.sleep(decision.delay_seconds)
        body = await request.body()
        if decision.before in (Fault.HTTP_500, Fault.SOAP_FAULT, Fault.DROP, Fault.TIMEOUT):
            await sim.state.count(f"faults.{decision.before.value}")
            return _inject(sim, decision.before)
        try:
            package = parse_request(request.headers.get("content-type"), body)
            soap = parse_envelope(package.envelope, expected_action=ACTIONS[service])
        except SoapFault as fault:
            return _fault_response(fault, None)
        if decision.before is Fault.BUSY:
            await sim.state.count(f"faults.{Fault.BUSY.value}")
            return _busy(service, soap, package.mtom)
        try:
            answer = await _dispatch(sim, soap, package, peer_certificate(request.scope), decision)
        except SoapFault as fault:
            return _fault_response(fault, soap.message_id)
        return _answer(answer, soap, package.mtom)

    return endpoint


async def _dispatch(
    sim: Simulator, soap: SoapRequest, package: SoapPackage, tls_certificate: x509.Certificate | None, decision: Decision
) -> etree._Element:
    if soap.action == ns.ACTION_TD02:
        rejection = None
        try:
            check_vihf(soap.header, trust=sim.trust, now=sim.now(), policy=sim.config.vihf, tls_certificate=tls_certificate)
        except Rejected as exc:
            rejection = exc
        return handle_td02(soap.body, patients=sim.patients, schemas=sim.schemas, now=sim.now(), rejection=rejection)
    if soap.action == ns.ACTION_ITI18:
        try:
            return query_response(await handle_iti18(sim, soap, tls_certificate))
        except Rejected as exc:
            return query_response([], exc.errors)
    if soap.action == ns.ACTION_ITI57:
        try:
            await handle_iti57(sim, soap, tls_certificate)
        except Rejected as exc:
            return registry_response(exc.errors)
        return registry_response()
    try:
        await handle_iti41(sim, soap, package, tls_certificate)
    except Rejected as exc:
        await sim.state.count(f"iti41.rejected.{exc.code}")
        return registry_response(exc.errors)
    if decision.after_commit is not None:
        await sim.state.count("iti41.accepted", f"faults.{Fault.COMMIT_THEN_FAIL.value}")
        _fail_after_commit(sim, decision.after_commit)
        return registry_response([RegistryErrorSpec(codes.REPOSITORY_BUSY, "the repository is busy, try again later")])
    await sim.state.count("iti41.accepted")
    return registry_response()


def _fail_after_commit(sim: Simulator, mode: Fault) -> None:
    """Raise the configured failure; returns only for `busy`, whose answer the caller builds."""
    if mode in (Fault.DROP, Fault.TIMEOUT):
        raise DropConnection(mode, sim.state.plan.timeout_seconds if mode is Fault.TIMEOUT else 0.0)
    if mode is Fault.SOAP_FAULT:
        raise SoapFault("Receiver", "simulated DMP internal error (after the documents were stored)")
    if mode is Fault.HTTP_500:
        raise _Http500()


class _Http500(SoapFault):
    def __init__(self) -> None:
        super().__init__("Receiver", "Internal Server Error")


def _inject(sim: Simulator, fault: Fault) -> Response:
    if fault in (Fault.DROP, Fault.TIMEOUT):
        raise DropConnection(fault, sim.state.plan.timeout_seconds if fault is Fault.TIMEOUT else 0.0)
    if fault is Fault.HTTP_500:
        return PlainTextResponse("Internal Server Error", status_code=500)
    return _fault_response(SoapFault("Receiver", "simulated DMP internal error"), None)


def _busy(service: str, soap: SoapRequest, mtom: bool) -> Response:
    if service == ns.SERVICE_PATIENTS:
        return _fault_response(SoapFault("Receiver", "the DMP is busy, try again later"), soap.message_id)
    if service == ns.SERVICE_REPOSITORY:
        error = RegistryErrorSpec(codes.REPOSITORY_BUSY, "the repository is busy, try again later")
    else:
        error = RegistryErrorSpec("XDSRegistryBusy", "the registry is busy, try again later")
    body = query_response([], [error]) if soap.action == ns.ACTION_ITI18 else registry_response([error])
    return _answer(body, soap, mtom)


def _answer(body: etree._Element, soap: SoapRequest, mtom: bool) -> Response:
    action = ns.RESPONSE_ACTION[soap.action]
    envelope = build_envelope(body, action=action, relates_to=soap.message_id)
    content, content_type = build_response(envelope, mtom=mtom, action=action)
    return Response(content, status_code=200, headers={"content-type": content_type})


def _fault_response(fault: SoapFault, relates_to: str | None) -> Response:
    if isinstance(fault, _Http500):
        return PlainTextResponse("Internal Server Error", status_code=500)
    envelope = build_fault(fault, relates_to=relates_to)
    content, content_type = build_response(envelope, mtom=False, action=ns.ACTION_FAULT)
    return Response(content, status_code=500, headers={"content-type": content_type})
