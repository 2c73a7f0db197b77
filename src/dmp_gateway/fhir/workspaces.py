"""Provisioning a workspace: its Organization (id = workspace id) and its DMP channel Device.

The Device is the "device provided by Lifen" of the seed: CommunicationRequest.recipient and the
active-devices extension must point at it.
"""

from __future__ import annotations

import uuid

from dmp_gateway.bootstrap import Services
from dmp_gateway.fhir.codes import CHANNEL_SYSTEM, DMP_CHANNEL, FINESS_SYSTEMS, SIRET_SYSTEMS, WORKSPACE_SYSTEM
from dmp_gateway.fhir.search_params import index_rows
from dmp_gateway.store.workspaces import Workspace


def organization_resource(workspace_id: str, name: str, finess: str | None, siret: str | None) -> dict:
    identifiers = [{"system": WORKSPACE_SYSTEM, "value": workspace_id}]
    if finess:
        identifiers.append({"system": FINESS_SYSTEMS[0], "value": finess,
                            "type": {"coding": [{"code": "FINEG", "display": "FINESS d'entité géographique"}]}})
    if siret:
        identifiers.append({"system": SIRET_SYSTEMS[0], "value": siret,
                            "type": {"coding": [{"code": "SIRET", "display": "SIRET"}]}})
    return {"resourceType": "Organization", "active": True, "name": name, "identifier": identifiers}


def dmp_device_resource(workspace_id: str) -> dict:
    return {
        "resourceType": "Device", "status": "active",
        "identifier": [{"system": WORKSPACE_SYSTEM, "value": f"{workspace_id}/dmp"}],
        "type": {"coding": [{"system": CHANNEL_SYSTEM, "code": DMP_CHANNEL, "display": "DMP (Mon Espace Santé)"}],
                 "text": "DMP channel"},
        "owner": {"reference": f"Organization/{workspace_id}"},
        "model": "dmp-gateway DMP connector",
    }


def check_workspace_fields(name: str, finess: str | None, siret: str | None) -> None:
    """ValueError naming the field, before anything is stored (or a database started)."""
    if not name.strip():
        raise ValueError("a workspace needs a name")
    if finess and siret:
        raise ValueError("give a FINESS or a SIRET number, not both")
    if finess and not (finess.isdigit() and len(finess) == 9):
        raise ValueError("a FINESS number has 9 digits")
    if siret and not (siret.isdigit() and len(siret) == 14):
        raise ValueError("a SIRET number has 14 digits")


async def provision_workspace(services: Services, name: str, *, finess: str | None = None,
                              siret: str | None = None) -> Workspace:
    check_workspace_fields(name, finess, siret)
    ws_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    org = organization_resource(ws_id, name, finess, siret)
    device = dmp_device_resource(ws_id)
    store = services.resources
    async with store.transaction() as conn:
        await store.create("Organization", ws_id, org, index_rows("Organization", org), conn=conn, res_id=ws_id)
        await store.create("Device", ws_id, device, index_rows("Device", device), conn=conn, res_id=device_id)
        await conn.execute("insert into workspace (id, name, dmp_device_id) values (%s, %s, %s)",
                           (ws_id, name, device_id))
    workspace = await services.workspaces.get(ws_id)
    assert workspace is not None
    return workspace
