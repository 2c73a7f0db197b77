"""ClinicalDocument and its document-level header elements, realmCode through versionNumber.

Order and values: CDA R2 POCD_MT000040.ClinicalDocument; CI-SIS rules in cda-structuration-minimale.md §2
(realmCode FR, the three templateIds of an XDS-SD document, id = XDS uniqueId, code from JDV_J07).
"""

from __future__ import annotations

from lxml import etree

from dmp_gateway.cda import valuesets
from dmp_gateway.cda.elements import Element, coded, ii, sub, text, ts
from dmp_gateway.cda.inputs import DocumentMetadata
from dmp_gateway.cda.ns import NSMAP, TEMPLATE_IDS, TYPE_ID_EXTENSION, TYPE_ID_ROOT, hl7


def clinical_document(doc: DocumentMetadata) -> Element:
    """The root element with the identification header of the document."""
    root = etree.Element(hl7("ClinicalDocument"), nsmap=NSMAP)
    sub(root, "realmCode", code="FR")
    sub(root, "typeId", root=TYPE_ID_ROOT, extension=TYPE_ID_EXTENSION)
    for template in TEMPLATE_IDS:
        ii(root, "templateId", template)
    ii(root, "id", doc.unique_id)
    coded(root, "code", doc.type_code)
    text(root, "title", doc.title)
    ts(root, "effectiveTime", doc.effective_time)
    coded(root, "confidentialityCode", valuesets.confidentialities().concepts[doc.confidentiality])
    sub(root, "languageCode", code=doc.language)
    ii(root, "setId", doc.set_id)
    sub(root, "versionNumber", value=str(doc.version_number))
    return root
