"""Messages from our connector (dmp/ SoapDmp with `dmp-gateway dev-certs` certificates) are accepted end to
end over mTLS by the simulator, which judges them with its own, spec-written checks."""

from __future__ import annotations

import uuid

import httpx
import pytest
from lxml import etree

from dmp_gateway.dmp_simulator import SimulatorConfig, TlsFiles

certs_mod = pytest.importorskip("dmp_gateway.dmp.certs")
client_mod = pytest.importorskip("dmp_gateway.dmp.client")
devcerts = pytest.importorskip("dmp_gateway.dmp.devcerts")
errors = pytest.importorskip("dmp_gateway.dmp.errors")
types = pytest.importorskip("dmp_gateway.dmp.types")
vihf = pytest.importorskip("dmp_gateway.dmp.vihf")

from dmp_gateway.ins import Ins  # noqa: E402

OID = "1.2.250.1.213.1.4.10"


def _submission(template, ins: Ins):
    tree = etree.parse(str(template)).getroot()
    unique_id = f"1.2.250.1.999.1.1.4.{uuid.uuid4().int % 10**12}"
    tree.find("{urn:hl7-org:v3}id").set("root", unique_id)
    patient = tree.find("{urn:hl7-org:v3}recordTarget/{urn:hl7-org:v3}patientRole/{urn:hl7-org:v3}id")
    patient.set("extension", ins.value)
    return types.Submission(ins, etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), unique_id)


@pytest.fixture
async def connector(tmp_path, shared_dir, sim_database, serve):
    paths = devcerts.generate(tmp_path / "certs")
    config = SimulatorConfig(
        database_url=sim_database, trust_anchors=(paths.ca_cert,), cda_kit=shared_dir / "ans-cda-kit",
        xml_schemas=shared_dir / "xml-schemas", db_pool_size=2,
        tls=TlsFiles(paths.server_cert, paths.server_key, paths.ca_cert),
    )
    signer = certs_mod.load_signing_identity(paths.sign_cert, paths.sign_key)
    profile = vihf.VihfProfile(structure_id=signer.structure_id, name_id="810002422979", subject_id="dmp-gateway e2e")
    async with serve(config) as base_url:
        http = httpx.AsyncClient(verify=certs_mod.client_ssl_context(paths), timeout=30)
        port = client_mod.SoapDmp(
            client=http, config=client_mod.ConnectorConfig(f"{base_url}{config.base_path}", "1.2.250.1.999.1.1", profile),
            signer=signer,
        )
        yield port, base_url, http
        await port.aclose()


async def test_connector_messages_are_accepted_over_mtls(connector, shared_dir):
    port, base_url, http = connector
    template = shared_dir / "ans-cda-kit" / "ExemplesCDA" / "DOC_NON_STRUCTURE_CDA-R2-N1.xml"
    ins = Ins("162018885045327", OID)

    assert (await port.dmp_status(ins)).state is types.DmpState.OPEN
    submission = _submission(template, ins)
    receipt = await port.submit(submission)

    listed = (await http.get(f"{base_url}/_sim/documents", params={"unique_id": submission.unique_id})).json()
    assert [(d["patient"], d["hash"], d["size"]) for d in listed["documents"]] == [(ins.value, receipt.hash, receipt.size)]
    assert (await http.get(base_url + listed["documents"][0]["cda_url"])).content == submission.cda
    found = await port.find(ins, submission.unique_id)
    assert found is not None and found.same_content(receipt.hash, receipt.size)
    with pytest.raises(errors.Duplicate):
        await port.submit(submission)
    await port.update_status(ins, submission.unique_id, types.NewStatus.ARCHIVED)


async def test_connector_reads_closed_and_missing_dmps(connector):
    port, _, _ = connector
    assert (await port.dmp_status(Ins("207058575627097", OID))).state is types.DmpState.CLOSED
    assert (await port.dmp_status(Ins("255069999999934", OID))).state is types.DmpState.NOT_FOUND


async def test_connector_submission_for_a_closed_dmp_is_permanent(connector, shared_dir):
    port, _, _ = connector
    template = shared_dir / "ans-cda-kit" / "ExemplesCDA" / "DOC_NON_STRUCTURE_CDA-R2-N1.xml"
    with pytest.raises(errors.Permanent) as raised:
        await port.submit(_submission(template, Ins("207058575627097", OID)))
    assert raised.value.code == "DMPClosed"
