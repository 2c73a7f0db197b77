"""Acceptance: every kind of CDA the builder produces passes the ANS kit (XSD + structuration minimale).

The representative set: every facility type (JDV_J02) and every practice setting (JDV_J04) at least once,
each INS OID, with and without IPP, a replacement (RPLC), a software author, and the FHIR seed flow.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from dataclasses import replace
from datetime import date

from dmp_gateway.cda import valuesets
from dmp_gateway.cda.builder import build_cda
from dmp_gateway.cda.examples import example_document, example_inputs, example_patient, example_pdf
from dmp_gateway.cda.inputs import AuthoringDevice, Code
from dmp_gateway.config import Settings
from dmp_gateway.fhir.cda_mapping import build_cda_for_resources
from dmp_gateway.ins import INS_OIDS, Ins

PDF = example_pdf(200)


def representative_documents(fx) -> dict[str, bytes]:
    docs: dict[str, bytes] = {}
    facilities = list(valuesets.facility_types().concepts.values())
    settings = itertools.cycle(valuesets.practice_settings().concepts.values())
    for facility, setting in zip(facilities, settings):
        doc = example_document(facility_type=facility, practice_setting=setting)
        docs[f"facility-{facility.code}-{setting.code}"] = build_cda(example_inputs(pdf=PDF, document=doc))
    for setting in valuesets.practice_settings().concepts.values():  # each one is also seen with SA01
        doc = example_document(facility_type=valuesets.facility_types().get("SA01"), practice_setting=setting)
        docs[f"setting-{setting.code}"] = build_cda(example_inputs(pdf=PDF, document=doc))
    for oid in INS_OIDS:
        for ipp in (True, False):
            patient = example_patient(ins=Ins("279035121518989", oid))
            patient = patient if ipp else replace(patient, local_id=None)
            docs[f"ins-{oid}-ipp-{ipp}"] = build_cda(example_inputs(pdf=PDF, patient=patient))
    docs["ipp-only"] = build_cda(example_inputs(pdf=PDF, patient=example_patient(ins=None, birth_place_code=None)))
    replacing = example_document(replaced_unique_id="1.2.250.1.999.1.1.8121.4.0", version_number=2,
                                 service_end=date(2025, 3, 2), confidentiality="V",
                                 service_code=Code("18723-7", "2.16.840.1.113883.6.1", "Hématologie"))
    docs["rplc"] = build_cda(example_inputs(pdf=PDF, document=replacing))
    device = AuthoringDevice("3120459876/dmp-gateway", "dmp-gateway", "dmp-gateway 0.1.0")
    docs["device-author"] = build_cda(example_inputs(pdf=PDF, author=device))
    docs["fhir-seed"] = build_cda_for_resources(fx.request_resources(), Settings())
    return docs


def test_every_representative_document_passes_the_kit(kit, fx, tmp_path):
    docs = representative_documents(fx)
    assert len(docs) > len(valuesets.facility_types().concepts) + 10
    failures = {}
    for name, cda in docs.items():
        path = tmp_path / f"{name}.xml"
        path.write_bytes(cda)
        report = kit.validate_file(path)
        if not report.valid:
            failures[name] = [f.format() for f in report.errors] or [report.oracle_failure]
    assert failures == {}


def test_the_kit_command_line_accepts_a_batch(kit_dir, fx, tmp_path):
    """The literal acceptance check: `python validate_cda.py FILES --json` exits 0."""
    docs = representative_documents(fx)
    paths = []
    for name in ("fhir-seed", "rplc", "device-author", "ipp-only", "ins-1.2.250.1.213.1.4.8-ipp-True"):
        paths.append(tmp_path / f"{name}.xml")
        paths[-1].write_bytes(docs[name])
    run = subprocess.run([sys.executable, str(kit_dir / "validate_cda.py"), *map(str, paths), "--json"],
                         capture_output=True, timeout=120, check=False)
    report = json.loads(run.stdout)
    assert [f["valid"] for f in report["files"]] == [True] * len(paths), run.stdout.decode()[:2000]
    assert run.returncode == 0


def test_the_kit_still_rejects_what_the_builder_must_not_produce(kit, tmp_path):
    """Guards the oracle: a copy of a valid document with a fourth templateId must fail."""
    cda = build_cda(example_inputs(pdf=PDF))
    broken = cda.replace(b'<templateId root="1.3.6.1.4.1.19376.1.2.20"/>',
                         b'<templateId root="1.3.6.1.4.1.19376.1.2.20"/><templateId root="1.2.3"/>')
    assert broken != cda
    path = tmp_path / "broken.xml"
    path.write_bytes(broken)
    assert not kit.validate_file(path).valid
