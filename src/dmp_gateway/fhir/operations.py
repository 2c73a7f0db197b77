"""Operations on a CommunicationRequest's delivery: $send, $retry, $cancel and $timeline.

`$send` validates a request that waited for a human (no IMMEDIATE_MODE tag); `$retry` starts a
failed one again after its data was fixed; `$cancel` withdraws it. They need
COMMUNICATIONREQUEST_UPDATE and answer the CommunicationRequest as it now stands. `$timeline`
(COMMUNICATIONREQUEST_READ) answers a Parameters resource: `state`, `attempts`, `uniqueId`, `reason`,
`waitingFor` (the same person's request a queued one waits behind), then one `event` part per step (at,
step, outcome, details as JSON text), oldest first. `$send` and `$retry` first choose the job lock again
from the Patient as it now is (a retry typically follows a corrected NIR).
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dmp_gateway.delivery import service
from dmp_gateway.delivery.states import IllegalTransition, State
from dmp_gateway.fhir.delivery_hook import request_lock
from dmp_gateway.fhir.interactions import check_id, services
from dmp_gateway.fhir.outcomes import error
from dmp_gateway.fhir.references import parse_reference
from dmp_gateway.fhir.responses import json_response, resource_response
from dmp_gateway.fhir.security import authorize

NAMES = ("send", "retry", "cancel", "timeline")
_ACTIONS = {"send": service.send, "retry": service.retry, "cancel": service.cancel}


async def _owned_delivery(request: Request, res_id: str, scope: str):  # noqa: ANN202
    check_id("CommunicationRequest", res_id)
    caller = await authorize(request, scope)
    svc = services(request)
    stored = await svc.resources.read("CommunicationRequest", res_id, caller.workspace.id)  # 404 elsewhere
    return caller, svc, stored


async def act(request: Request, res_id: str, operation: str) -> Response:
    caller, svc, stored = await _owned_delivery(request, res_id, "COMMUNICATIONREQUEST_UPDATE")
    subject = parse_reference((stored.as_dict().get("subject") or {}).get("reference"))
    if operation in ("send", "retry") and subject is not None:  # the profile rules require a subject
        await svc.deliveries.relock(res_id, await request_lock(svc.resources, caller.workspace.id, subject.id))
    try:
        await _ACTIONS[operation](res_id, store=svc.deliveries, who=caller.principal.subject)
    except IllegalTransition as exc:
        raise error(409, "business-rule", f"${operation}: {exc}") from None
    stored = await svc.resources.read("CommunicationRequest", res_id, caller.workspace.id)
    return resource_response(request, stored)


async def timeline(request: Request, res_id: str) -> Response:
    _, svc, _ = await _owned_delivery(request, res_id, "COMMUNICATIONREQUEST_READ")
    delivery = await svc.deliveries.get(res_id)
    events = await svc.deliveries.timeline(res_id)
    params = [{"name": "state", "valueCode": delivery.state.value},
              {"name": "attempts", "valueInteger": delivery.attempts}]
    if delivery.unique_id:
        params.append({"name": "uniqueId", "valueString": delivery.unique_id})
    if delivery.reason:
        params.append({"name": "reason", "valueCode": delivery.reason.value})
    if delivery.state in (State.QUEUED, State.RETRY_SCHEDULED):
        # Jobs of one person run in order: tell an operator which request this one waits behind.
        blocker = await svc.deliveries.waiting_for(res_id)
        if blocker:
            params.append({"name": "waitingFor", "valueReference": {"reference": f"CommunicationRequest/{blocker}"}})
    for e in events:
        params.append({"name": "event", "part": [
            {"name": "at", "valueInstant": e.at.isoformat()}, {"name": "step", "valueCode": e.step},
            {"name": "outcome", "valueCode": e.outcome},
            {"name": "details", "valueString": orjson.dumps(e.details).decode()}]})
    return json_response(request, {"resourceType": "Parameters", "parameter": params})
