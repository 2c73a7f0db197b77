"""XML Schema checks of DMP messages with the offline XSDs of ../shared/xml-schemas.

Which root schema validates which element follows ../shared/xml-schemas/README.md. Remote
`schemaLocation`s are mapped to the local copies by an lxml Resolver (no network, no env variable).
Two adaptations the README describes: `xdsb:Document` children that are `xop:Include` are replaced
by base64 text before validation, and the VIHF is checked against SAML plus the HL7v3 datatypes
(its roles are `xsi:type="CE"`, an HL7 type). Used by tests and by the simulator.
"""

from __future__ import annotations

import copy
from functools import cached_property
from pathlib import Path

from lxml import etree

from dmp_gateway.dmp.namespaces import HL7, QUERY, RS, SAML2, XDSB, XOP, DS, LCM, qname

_REMOTE = {
    "http://www.w3.org/2001/xml.xsd": "xml/xml.xsd",
    "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": "xmldsig/xmldsig-core-schema.xsd",
    "http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd": "xmlenc/xenc-schema.xsd",
    "http://uri.etsi.org/01903/v1.3.2/XAdES.xsd": "xades/XAdES.xsd",
}


class _LocalSchemas(etree.Resolver):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def resolve(self, system_url, public_id, context):  # type: ignore[override]
        local = _REMOTE.get(system_url)
        if local is None:
            return None
        return self.resolve_filename(str(self.root / local), context)


def default_schemas_dir() -> Path:
    """`<repo>/../shared/xml-schemas`, located from this file (src/dmp_gateway/dmp/xsd.py)."""
    return Path(__file__).resolve().parents[4] / "shared" / "xml-schemas"


class XsdValidator:
    """Compiles each root schema once, on first use; `errors(element)` returns readable messages."""

    def __init__(self, schemas_dir: Path | None = None) -> None:
        self.root = Path(schemas_dir) if schemas_dir else default_schemas_dir()
        if not (self.root / "xdsb").is_dir():
            raise FileNotFoundError(f"no XML schemas in {self.root}")

    def _load(self, relative_or_text: str, *, text: bool = False) -> etree.XMLSchema:
        parser = etree.XMLParser(no_network=True)
        parser.resolvers.add(_LocalSchemas(self.root))
        if text:
            document = etree.fromstring(relative_or_text.encode(), parser=parser, base_url=str(self.root) + "/")
            return etree.XMLSchema(document)
        return etree.XMLSchema(etree.parse(str(self.root / relative_or_text), parser=parser))

    @cached_property
    def xdsb(self) -> etree.XMLSchema:
        return self._load("xdsb/XDS.b_DocumentRepository.xsd")

    @cached_property
    def td02_request(self) -> etree.XMLSchema:
        return self._load("hl7v3/PRPA_IN201307UV02.xsd")

    @cached_property
    def td02_response(self) -> etree.XMLSchema:
        return self._load("hl7v3/PRPA_IN201308UV02.xsd")

    @cached_property
    def saml(self) -> etree.XMLSchema:
        wrapper = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:dmpgw:xsd-wrapper">'
            f'<xs:import namespace="{SAML2}" schemaLocation="{(self.root / "saml/saml-schema-assertion-2.0.xsd").as_uri()}"/>'
            f'<xs:import namespace="{HL7}" schemaLocation="{(self.root / "hl7v3/PRPA_IN201307UV02.xsd").as_uri()}"/>'
            "</xs:schema>"
        )
        return self._load(wrapper, text=True)

    @cached_property
    def xades(self) -> etree.XMLSchema:
        return self._load("xades/XAdESv111.xsd")

    def schema_for(self, element: etree._Element) -> etree.XMLSchema:
        tag = element.tag
        if tag in (qname(XDSB, "ProvideAndRegisterDocumentSetRequest"), qname(RS, "RegistryResponse"),
                   qname(QUERY, "AdhocQueryRequest"), qname(QUERY, "AdhocQueryResponse"),
                   qname(LCM, "SubmitObjectsRequest")):
            return self.xdsb
        if tag == qname(HL7, "PRPA_IN201307UV02"):
            return self.td02_request
        if tag == qname(HL7, "PRPA_IN201308UV02"):
            return self.td02_response
        if tag == qname(SAML2, "Assertion"):
            return self.saml
        if tag == qname(DS, "Signature"):
            return self.xades
        raise ValueError(f"no schema known for {tag}")

    def errors(self, element: etree._Element) -> list[str]:
        """Schema errors of `element` (empty when valid); XOP includes count as base64 content."""
        checked = _without_xop(element)
        schema = self.schema_for(checked)
        if schema.validate(checked):
            return []
        return [f"line {e.line}: {e.message}" for e in schema.error_log]


def _without_xop(element: etree._Element) -> etree._Element:
    includes = list(element.iter(qname(XOP, "Include")))
    if not includes:
        return element
    clone = copy.deepcopy(element)
    for include in list(clone.iter(qname(XOP, "Include"))):
        parent = include.getparent()
        parent.remove(include)
        parent.text = "AA=="
    return clone


__all__ = ["XsdValidator", "default_schemas_dir"]
