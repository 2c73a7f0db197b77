"""Read the ebRIM 3.0 metadata of a SubmitObjectsRequest into plain views (no rule is judged here).

ebRIM encoding: xds-metadata.md §1-§2 (slots, classifications, external identifiers, scheme UUIDs);
the SubmissionSet is the RegistryPackage classified by `urn:uuid:a54d6aa5-…` (IHE ITI TF-3 §4.2.3.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from dmp_gateway.dmp.namespaces import LCM, RIM, SS_CLASSIFICATION_NODE, qname


@dataclass(frozen=True, slots=True)
class Coded:
    """A Classification carrying a code: nodeRepresentation, codingScheme slot, display name."""

    code: str
    scheme: str | None
    display: str | None


@dataclass(slots=True)
class RegistryObjectView:
    """Slots, classifications and external identifiers of one RegistryPackage or ExtrinsicObject."""

    id: str
    element: etree._Element
    slots: dict[str, list[str]] = field(default_factory=dict)
    #: Coded classifications by classificationScheme (several for confidentialityCode, eventCodeList).
    codes: dict[str, list[Coded]] = field(default_factory=dict)
    #: Author classifications: one slot dict per author.
    authors: list[dict[str, list[str]]] = field(default_factory=list)
    #: External identifier values by identificationScheme.
    identifiers: dict[str, str] = field(default_factory=dict)
    name: str | None = None

    def slot(self, name: str) -> str | None:
        values = self.slots.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class AssociationView:
    id: str
    type: str
    source: str
    target: str
    slots: dict[str, list[str]]


@dataclass(slots=True)
class SubmissionView:
    """Everything in one SubmitObjectsRequest."""

    submission_sets: list[RegistryObjectView]
    entries: list[RegistryObjectView]
    associations: list[AssociationView]
    #: Other RegistryPackages (folders), kept only to be refused or ignored.
    packages: list[RegistryObjectView]


# Tag names, built once (a submission is a few hundred lookups).
_SLOT, _VALUE = qname(RIM, "Slot"), qname(RIM, "Value")
_CLASSIFICATION, _EXTERNAL_IDENTIFIER = qname(RIM, "Classification"), qname(RIM, "ExternalIdentifier")
_REGISTRY_PACKAGE, _EXTRINSIC_OBJECT, _ASSOCIATION = (
    qname(RIM, "RegistryPackage"), qname(RIM, "ExtrinsicObject"), qname(RIM, "Association"),
)
_NAME_STRING = f"{qname(RIM, 'Name')}/{qname(RIM, 'LocalizedString')}"


def _slots(element: etree._Element) -> dict[str, list[str]]:
    slots: dict[str, list[str]] = {}
    for slot in element.iterchildren(_SLOT):
        values = [(v.text or "").strip() for v in slot.iter(_VALUE)]
        slots.setdefault(slot.get("name", ""), []).extend(values)
    return slots


def _name(element: etree._Element) -> str | None:
    found = element.find(_NAME_STRING)
    return found.get("value") if found is not None else None


def read_object(element: etree._Element, author_schemes: tuple[str, ...]) -> RegistryObjectView:
    """One RegistryPackage/ExtrinsicObject as a view; author classifications become `authors`."""
    view = RegistryObjectView(id=element.get("id", ""), element=element, slots=_slots(element))
    view.name = _name(element)
    for classification in element.iterchildren(_CLASSIFICATION):
        scheme = classification.get("classificationScheme")
        if scheme is None:
            continue
        if scheme in author_schemes:
            view.authors.append(_slots(classification))
            continue
        coding = _slots(classification).get("codingScheme", [None])
        view.codes.setdefault(scheme, []).append(
            Coded(classification.get("nodeRepresentation", ""), coding[0], _name(classification))
        )
    for identifier in element.iterchildren(_EXTERNAL_IDENTIFIER):
        view.identifiers[identifier.get("identificationScheme", "")] = identifier.get("value", "")
    return view


def read_submission(request: etree._Element, author_schemes: tuple[str, ...]) -> SubmissionView:
    """Views of every object of a `lcm:SubmitObjectsRequest` (as it is, ITI-41's or ITI-57's)."""
    object_list = request.find(qname(RIM, "RegistryObjectList"))
    if request.tag != qname(LCM, "SubmitObjectsRequest") or object_list is None:
        raise ValueError("expected lcm:SubmitObjectsRequest/rim:RegistryObjectList")
    submission_set_ids = {
        c.get("classifiedObject")
        for c in object_list.iter(_CLASSIFICATION)
        if c.get("classificationNode") == SS_CLASSIFICATION_NODE
    }
    view = SubmissionView([], [], [], [])
    for element in object_list:
        tag = element.tag
        if tag == _REGISTRY_PACKAGE:
            target = view.submission_sets if element.get("id") in submission_set_ids else view.packages
            target.append(read_object(element, author_schemes))
        elif tag == _EXTRINSIC_OBJECT:
            view.entries.append(read_object(element, author_schemes))
        elif tag == _ASSOCIATION:
            view.associations.append(
                AssociationView(
                    element.get("id", ""), element.get("associationType", ""), element.get("sourceObject", ""),
                    element.get("targetObject", ""), _slots(element),
                )
            )
    return view
