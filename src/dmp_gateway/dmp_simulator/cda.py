"""Judge the CDA documents: XSD-valid against the ANS `CDA_extended.xsd`, and with `--strict-cda` also valid
against the structuration-minimale schematron, through the ANS kit runner (dmp-interfaces.md §4.5:
EX_2.1-1071, EX_2.1-1090; cda-structuration-minimale.md §8). The XSD is compiled once, at start-up.

The header must also agree with the metadata (CI-SIS "Lien entre en-tête CDA et métadonnées XDS",
xds-metadata.md §3): uniqueId = ClinicalDocument/id, patientId = the recordTarget INS.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from pathlib import Path
from types import ModuleType

import anyio.to_thread
from lxml import etree

from dmp_gateway.dmp.namespaces import HL7, qname
from dmp_gateway.dmp_simulator.rejections import INVALID_DOCUMENT_CONTENT, REGISTRY_METADATA_ERROR, Rejected
from dmp_gateway.ins import INS_OIDS

log = logging.getLogger(__name__)

XSD_PATH = Path("infrastructure/cda/CDA_extended.xsd")
STRUCMIN_PATH = Path("schematrons/profils/structurationMinimale/ASIP-STRUCT-MIN-StrucMin.sch")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_MAX_REPORTED = 3


class CdaValidator:
    """XSD (always, when the kit is known) and schematron (strict) validation of submitted CDAs."""

    def __init__(self, kit: Path | None, *, strict: bool) -> None:
        self.kit = kit
        self.strict = strict
        self._schema: etree.XMLSchema | None = None
        self._runner: ModuleType | None = None
        self._lock = threading.Lock()
        if kit is None:
            if strict:
                raise ValueError("--strict-cda needs the ANS CDA kit (give --cda-kit PATH)")
            log.warning("ANS CDA kit not found: submitted CDAs are NOT validated against CDA_extended.xsd")
            return
        self._schema = etree.XMLSchema(etree.parse(str(kit / XSD_PATH)))
        if strict:
            self._runner = _load_runner(kit)
            # Compile the rules now, so the first request does not pay for it (≈ 1 s).
            self._runner.get_schematron(kit / STRUCMIN_PATH, kit)

    @property
    def enabled(self) -> bool:
        return self._schema is not None

    @staticmethod
    def parse(data: bytes, location: str) -> etree._ElementTree:
        try:
            return etree.ElementTree(etree.fromstring(data, _PARSER))
        except etree.XMLSyntaxError as exc:
            raise Rejected(INVALID_DOCUMENT_CONTENT, f"the CDA is not well-formed XML: {exc}", location) from exc

    def check_schema(self, tree: etree._ElementTree, location: str) -> None:
        if self._schema is None:
            return
        if tree.getroot().tag != qname(HL7, "ClinicalDocument"):
            raise Rejected(INVALID_DOCUMENT_CONTENT, "the document is not an HL7 CDA R2 ClinicalDocument", location)
        if not self._schema.validate(tree):
            errors = [f"line {e.line}: {e.message}" for e in list(self._schema.error_log)[:_MAX_REPORTED]]
            raise Rejected(INVALID_DOCUMENT_CONTENT, "the CDA is not valid against CDA_extended.xsd: " + "; ".join(errors), location)

    async def check_schematron(self, data: bytes, location: str) -> None:
        if self._runner is None:
            return
        findings = await anyio.to_thread.run_sync(self._run_schematron, data)
        if findings:
            raise Rejected(
                INVALID_DOCUMENT_CONTENT,
                "the CDA breaks the structuration minimale schematron: " + "; ".join(findings[:_MAX_REPORTED]),
                location,
            )

    def _run_schematron(self, data: bytes) -> list[str]:
        runner, kit = self._runner, self.kit
        with self._lock:  # one Saxon processor per process; it is not documented as thread-safe
            xdm = runner._saxon().parse_xml(xml_text=data.decode("utf-8"))
            findings, _ = runner.get_schematron(kit / STRUCMIN_PATH, kit).run(xdm)
        return [" ".join(f.message.split()) for f in findings if f.severity == "ERROR"]


def _load_runner(kit: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("ans_validate_cda", kit / "validate_cda.py")
    if spec is None or spec.loader is None:
        raise ValueError(f"{kit}/validate_cda.py not found: --strict-cda needs the ANS kit runner")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def check_header(tree: etree._ElementTree, *, unique_id: str, patient_ins: str, location: str) -> None:
    """The CDA header must say what the metadata says (id ↔ uniqueId, recordTarget INS ↔ patientId)."""
    root = tree.getroot()
    doc_id = root.find(qname(HL7, "id"))
    if doc_id is None:
        raise Rejected(REGISTRY_METADATA_ERROR, "the CDA has no ClinicalDocument/id", location)
    expected = doc_id.get("root", "") + (f"^{doc_id.get('extension')}" if doc_id.get("extension") else "")
    if expected != unique_id:
        raise Rejected(
            REGISTRY_METADATA_ERROR, f"uniqueId {unique_id!r} is not the CDA's ClinicalDocument/id {expected!r}", location
        )
    ids = root.findall(f"{qname(HL7, 'recordTarget')}/{qname(HL7, 'patientRole')}/{qname(HL7, 'id')}")
    ins = [i.get("extension") for i in ids if i.get("root") in INS_OIDS]
    if patient_ins not in ins:
        raise Rejected(REGISTRY_METADATA_ERROR, "patientId is not the INS of the CDA's recordTarget", location)
