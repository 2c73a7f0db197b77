"""ITI-18 Registry Stored Query, GetDocuments by uniqueId (TD3.1), as used after an uncertain outcome.

Request: dmp-interfaces.md §6 (DRIMBOX FindDocumentsRequest); `LeafClass` so the answer carries
`hash`, `size`, status and the entryUUID that RPLC and ITI-57 need. Response: `query:AdhocQueryResponse`
holding `rim:ExtrinsicObject`s, or a Failure with RegistryErrors.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.ebrim import classifications, external_identifier_value, rim, slot, slot_values
from dmp_gateway.dmp.errors import Permanent
from dmp_gateway.dmp.iti41 import RegistryResult, parse_registry_errors
from dmp_gateway.dmp.types import FoundDocument


def build_get_documents(unique_ids: list[str] | tuple[str, ...]) -> etree._Element:
    """AdhocQueryRequest GetDocuments (`urn:uuid:5c4f972b-…`) for these uniqueIds, returning LeafClass."""
    request = etree.Element(ns.qname(ns.QUERY, "AdhocQueryRequest"), nsmap={"query": ns.QUERY, "rim": ns.RIM})
    etree.SubElement(request, ns.qname(ns.QUERY, "ResponseOption"), returnType="LeafClass",
                     returnComposedObjects="true")
    query = etree.SubElement(request, rim("AdhocQuery"), id=ns.QUERY_GET_DOCUMENTS)
    quoted = ",".join("'" + uid.replace("'", "''") + "'" for uid in unique_ids)
    slot(query, "$XDSDocumentEntryUniqueId", [f"({quoted})"])
    return request


@dataclass(frozen=True, slots=True)
class EntryAuthor:
    """authorPerson / authorInstitution slot values of a found entry (reused by ITI-57)."""

    person: str
    institution: str | None


def _found(entry: etree._Element) -> FoundDocument:
    def first(name: str) -> str:
        values = slot_values(entry, name)
        return values[0] if values else ""

    size = first("size")
    return FoundDocument(
        unique_id=external_identifier_value(entry, ns.DE_UNIQUE_ID) or "",
        hash=first("hash"),
        size=int(size) if size.isdigit() else -1,
        status=entry.get("status", ""),
        entry_uuid=entry.get("id", ""),
        patient_id=external_identifier_value(entry, ns.DE_PATIENT_ID) or "",
        mime_type=entry.get("mimeType", ""),
    )


def entry_author(entry: etree._Element) -> EntryAuthor | None:
    for classification in classifications(entry, ns.DE_AUTHOR):
        person = slot_values(classification, "authorPerson")
        if person:
            institution = slot_values(classification, "authorInstitution")
            return EntryAuthor(person[0], institution[0] if institution else None)
    return None


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A parsed AdhocQueryResponse: its RegistryResponse-like status and the entries found."""

    registry: RegistryResult
    documents: tuple[FoundDocument, ...]
    authors: tuple[EntryAuthor | None, ...] = ()

    def raise_for_status(self) -> None:
        self.registry.raise_for_status()


def parse_query_response(element: etree._Element) -> QueryResult:
    """Read an AdhocQueryResponse; raises `Permanent` when the body is something else."""
    if element.tag != ns.qname(ns.QUERY, "AdhocQueryResponse"):
        raise Permanent("the answer is not an AdhocQueryResponse", code="UNEXPECTED_BODY", context=str(element.tag))
    entries = element.findall(f"{rim('RegistryObjectList')}/{rim('ExtrinsicObject')}")
    return QueryResult(
        registry=RegistryResult(status=element.get("status", ""), errors=parse_registry_errors(element)),
        documents=tuple(_found(e) for e in entries),
        authors=tuple(entry_author(e) for e in entries),
    )


__all__ = ["EntryAuthor", "QueryResult", "build_get_documents", "entry_author", "parse_query_response"]
