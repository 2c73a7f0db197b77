"""The simulator's own HTTP API under `/_sim`: what was delivered, fault injection, counters.

    GET  /_sim/documents[?patient=INS&unique_id=UID&include_signatures=true]
         {"documents": [{"patient", "unique_id", "hash", "size", "received_at", "cda_url", ...}]}
    GET  /_sim/documents/{entry_uuid}/cda     the document's bytes, as received
    GET  /_sim/faults, POST /_sim/faults      the fault plan (faults.FaultPlan as JSON)
    GET  /_sim/stats                          requests, injected faults, ITI-41 outcomes
    POST /_sim/reset                          forget documents and counters, restore the start-up fault plan
    GET  /_sim/health                         liveness, what is checked, which worker process answered
"""

from __future__ import annotations

import os
import uuid

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dmp_gateway.dmp_simulator.faults import FaultPlan
from dmp_gateway.dmp_simulator.simulator import Simulator


def admin_routes(sim: Simulator) -> list[Route]:
    async def documents(request: Request) -> Response:
        query = request.query_params
        registry = await sim.ready_registry()
        unique_id = query.get("unique_id")
        found = await registry.documents(
            patient=query.get("patient"), unique_ids=[unique_id] if unique_id else None,
            include_signatures=query.get("include_signatures", "false").lower() == "true",
        )
        return JSONResponse({"documents": [
            {
                "patient": d.patient, "unique_id": d.unique_id, "hash": d.hash, "size": d.size,
                "received_at": d.received_at.isoformat(), "cda_url": f"/_sim/documents/{d.entry_uuid}/cda",
                "entry_uuid": f"urn:uuid:{d.entry_uuid}", "status": d.status, "mime_type": d.mime_type,
                "is_signature": d.is_signature,
            }
            for d in found
        ]})

    async def document_content(request: Request) -> Response:
        try:
            entry = uuid.UUID(request.path_params["entry"])
        except ValueError:
            return JSONResponse({"error": "not an entryUUID"}, status_code=404)
        found = await (await sim.ready_registry()).content(entry)
        if found is None:
            return JSONResponse({"error": "no such document"}, status_code=404)
        content, mime_type = found
        return Response(content, media_type=mime_type)

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                plan = FaultPlan.model_validate_json(await request.body())
            except ValidationError as exc:
                errors = [
                    {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "rule": e["msg"]} for e in exc.errors()
                ]
                return JSONResponse({"errors": errors}, status_code=422)
            await sim.state.configure(plan)
        return JSONResponse((await sim.state.current_plan()).model_dump(mode="json"))

    async def stats(request: Request) -> Response:
        registry = await sim.ready_registry()
        counts = await sim.state.snapshot()

        def group(prefix: str) -> dict[str, int]:
            return {k.split(".", 1)[1]: v for k, v in counts.items() if k.startswith(prefix + ".")}

        return JSONResponse({
            "requests": group("requests"),
            "faults": group("faults"),
            "iti41": group("iti41"),
            "documents": await registry.count(),
        })

    async def reset(request: Request) -> Response:
        await (await sim.ready_registry()).reset()
        await sim.state.reset()
        return JSONResponse({"reset": True})

    async def health(request: Request) -> Response:
        return JSONResponse({
            "status": "ok",
            "patients": len(sim.patients),
            "trusted_certificates": len(sim.trust),
            "cda_xsd": sim.cda.enabled,
            "cda_schematron": sim.cda.strict,
            "metadata_xsd": sim.schemas is not None,
            "workers": sim.config.workers,
            "pid": os.getpid(),
        })

    return [
        Route("/_sim/documents", documents, methods=["GET"]),
        Route("/_sim/documents/{entry}/cda", document_content, methods=["GET"]),
        Route("/_sim/faults", faults, methods=["GET", "POST"]),
        Route("/_sim/stats", stats, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/health", health, methods=["GET"]),
    ]
