"""Namespaces and fixed OIDs of a CI-SIS CDA R2 "structuration minimale" document.

Sources: HL7 CDA R2 (POCD_HD000040), ANS CI-SIS volet "Structuration minimale des documents de santé"
(shared/domain/cda-structuration-minimale.md §1-§4), IHE XDS-SD (ITI TF-3 §5.2).
"""

from __future__ import annotations

#: XML namespaces.
HL7 = "urn:hl7-org:v3"
SDTC = "urn:hl7-org:sdtc"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {None: HL7, "xsi": XSI, "sdtc": SDTC}


def hl7(local: str) -> str:
    """Clark name of an element in the HL7 v3 namespace."""
    return f"{{{HL7}}}{local}"


def sdtc(local: str) -> str:
    """Clark name of an SDTC extension element (e.g. multipleBirthOrderNumber)."""
    return f"{{{SDTC}}}{local}"


#: typeId of every CDA R2 document.
TYPE_ID_ROOT = "2.16.840.1.113883.1.3"
TYPE_ID_EXTENSION = "POCD_HD000040"

#: The exactly three templateIds of a CDA with a nonXMLBody (any other one is rejected).
TEMPLATE_HL7_FRANCE = "2.16.840.1.113883.2.8.2.1"
TEMPLATE_CI_SIS = "1.2.250.1.213.1.1.1.1"
TEMPLATE_XDS_SD = "1.3.6.1.4.1.19376.1.2.20"
TEMPLATE_IDS = (TEMPLATE_HL7_FRANCE, TEMPLATE_CI_SIS, TEMPLATE_XDS_SD)

#: Code systems.
LOINC = "2.16.840.1.113883.6.1"
CONFIDENTIALITY = "2.16.840.1.113883.5.25"
ADMINISTRATIVE_GENDER = "2.16.840.1.113883.5.1"

#: Identifier roots of the French national directories (ANS).
PS_ROOT = "1.2.250.1.71.4.2.1"  # health professional (PS_IdNat), e.g. 8 + RPPS
STRUCTURE_ROOT = "1.2.250.1.71.4.2.2"  # structure (Struct_IdNat), e.g. 1 + FINESS, 3 + SIRET

#: Only language the DMP reads (languageCode pattern ll-CC).
LANGUAGE_FR = "fr-FR"
