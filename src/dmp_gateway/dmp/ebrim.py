"""ebRIM 3.0 building blocks (Slot, Classification, ExternalIdentifier, Association) and readers.

Encodings per xds-metadata.md §1 and IHE ITI TF-3 §4.2.3; element order per `rim.xsd`
(Slot*, Name?, Description?, Classification*, ExternalIdentifier*). HL7 v2 escaping of XCN/XON/CX
components per HL7 v2.5 §2.7.4.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from lxml import etree

from dmp_gateway.dmp.namespaces import EXTERNAL_IDENTIFIER_NAMES, RIM, qname
from dmp_gateway.dmp.types import Code

_HL7_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def hl7_escape(value: str) -> str:
    """Escape HL7 v2 delimiters inside one component (so `^` in a name cannot shift components)."""
    for raw, escaped in _HL7_ESCAPES:
        value = value.replace(raw, escaped)
    return value


def rim(tag: str) -> str:
    return qname(RIM, tag)


class IdSequence:
    """Symbolic ids, unique within one message (`cl01`, `ei01`, `as01`, ...)."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count] = {}

    def next(self, prefix: str) -> str:
        counter = self._counters.setdefault(prefix, itertools.count(1))
        return f"{prefix}{next(counter):02d}"


def slot(parent: etree._Element, name: str, values: Iterable[str]) -> etree._Element:
    element = etree.SubElement(parent, rim("Slot"), name=name)
    value_list = etree.SubElement(element, rim("ValueList"))
    for value in values:
        etree.SubElement(value_list, rim("Value")).text = value
    return element


def localized(parent: etree._Element, tag: str, value: str) -> etree._Element:
    """`<Name>` / `<Description>` with one LocalizedString (UTF-8, lang fr-FR)."""
    holder = etree.SubElement(parent, rim(tag))
    etree.SubElement(holder, rim("LocalizedString"), charset="UTF-8", value=value).set(
        "{http://www.w3.org/XML/1998/namespace}lang", "fr-FR"
    )
    return holder


def coded(parent: etree._Element, ids: IdSequence, scheme: str, object_id: str, code: Code) -> etree._Element:
    """A coded-value Classification: nodeRepresentation, codingScheme slot, display Name."""
    element = etree.SubElement(
        parent, rim("Classification"), id=ids.next("cl"), classificationScheme=scheme,
        classifiedObject=object_id, nodeRepresentation=code.code,
    )
    slot(element, "codingScheme", [code.scheme])
    localized(element, "Name", code.display or code.code)
    return element


def author_classification(
    parent: etree._Element, ids: IdSequence, scheme: str, object_id: str, *, person: str,
    institution: str | None, role: str | None, specialty: str | None,
) -> etree._Element:
    element = etree.SubElement(
        parent, rim("Classification"), id=ids.next("cl"), classificationScheme=scheme,
        classifiedObject=object_id, nodeRepresentation="",
    )
    slot(element, "authorPerson", [person])
    for name, value in (("authorInstitution", institution), ("authorRole", role), ("authorSpecialty", specialty)):
        if value:
            slot(element, name, [value])
    return element


def external_identifier(parent: etree._Element, ids: IdSequence, scheme: str, object_id: str, value: str) -> etree._Element:
    element = etree.SubElement(
        parent, rim("ExternalIdentifier"), id=ids.next("ei"), identificationScheme=scheme,
        registryObject=object_id, value=value,
    )
    localized(element, "Name", EXTERNAL_IDENTIFIER_NAMES[scheme])
    return element


def association(parent: etree._Element, ids: IdSequence, kind: str, source: str, target: str,
                slots: dict[str, str] | None = None) -> etree._Element:
    element = etree.SubElement(parent, rim("Association"), id=ids.next("as"), associationType=kind,
                               sourceObject=source, targetObject=target)
    for name, value in (slots or {}).items():
        slot(element, name, [value])
    return element


# --- readers --------------------------------------------------------------------------------------

def slot_values(element: etree._Element, name: str) -> list[str]:
    """Values of the direct child Slot `name` (empty when absent)."""
    for child in element.findall(rim("Slot")):
        if child.get("name") == name:
            return [(v.text or "") for v in child.iter(rim("Value"))]
    return []


def external_identifier_value(element: etree._Element, scheme: str) -> str | None:
    for child in element.findall(rim("ExternalIdentifier")):
        if child.get("identificationScheme") == scheme:
            return child.get("value")
    return None


def classifications(element: etree._Element, scheme: str) -> list[etree._Element]:
    return [c for c in element.findall(rim("Classification")) if c.get("classificationScheme") == scheme]


__all__ = [
    "IdSequence",
    "association",
    "author_classification",
    "classifications",
    "coded",
    "external_identifier",
    "external_identifier_value",
    "hl7_escape",
    "localized",
    "rim",
    "slot",
    "slot_values",
]
