"""ebRS 3.0 answers: rs:RegistryResponse (ITI-41, ITI-57) and query:AdhocQueryResponse (ITI-18).

IHE ITI TF-3 §4.2.4 (status Success / Failure, rs:RegistryErrorList/rs:RegistryError with errorCode,
codeContext, location, severity) and ebRS 3.0 rs.xsd / query.xsd.
"""

from __future__ import annotations

from lxml import etree

from dmp_gateway.dmp.namespaces import QUERY, RESPONSE_FAILURE, RESPONSE_SUCCESS, RIM, RS, qname
from dmp_gateway.dmp_simulator.rejections import RegistryErrorSpec


def _error_list(parent: etree._Element, errors: list[RegistryErrorSpec]) -> None:
    if not errors:
        return
    error_list = etree.SubElement(parent, qname(RS, "RegistryErrorList"))
    for error in errors:
        item = etree.SubElement(error_list, qname(RS, "RegistryError"))
        item.set("errorCode", error.code)
        item.set("codeContext", error.context)
        item.set("severity", error.severity)
        if error.location:
            item.set("location", error.location)


def registry_response(errors: list[RegistryErrorSpec] | None = None) -> etree._Element:
    """Success when `errors` is empty, else Failure with one RegistryError each."""
    response = etree.Element(qname(RS, "RegistryResponse"), nsmap={"rs": RS})
    response.set("status", RESPONSE_FAILURE if errors else RESPONSE_SUCCESS)
    _error_list(response, errors or [])
    return response


def query_response(objects: list[etree._Element], errors: list[RegistryErrorSpec] | None = None) -> etree._Element:
    """An AdhocQueryResponse holding `objects` (ObjectRef or ExtrinsicObject elements)."""
    response = etree.Element(qname(QUERY, "AdhocQueryResponse"), nsmap={"query": QUERY, "rim": RIM, "rs": RS})
    response.set("status", RESPONSE_FAILURE if errors else RESPONSE_SUCCESS)
    _error_list(response, errors or [])  # query.xsd: RegistryErrorList comes before RegistryObjectList
    object_list = etree.SubElement(response, qname(RIM, "RegistryObjectList"))
    for element in objects:
        object_list.append(element)
    return response
