"""XML namespaces, WS-Addressing actions and XDS identifiers of the DMP wire protocol.

Stable public vocabulary shared by the gateway's `dmp/` builders and the `dmp_simulator/`.
Sources: ../shared/domain/dmp-interfaces.md §1-§2 and §6, xds-metadata.md §2 and §8, IHE ITI TF-3 §4.2,
W3C SOAP 1.2 / WS-Addressing 1.0 / XOP, OASIS ebXML RegRep 3.0, SAML 2.0, XML-DSig, ETSI XAdES 1.1.1.
"""

from __future__ import annotations

import functools

from lxml import etree

# --- XML namespaces ---------------------------------------------------------------------------
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
XOP = "http://www.w3.org/2004/08/xop/include"
SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.1.1#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML = "http://www.w3.org/XML/1998/namespace"
HL7 = "urn:hl7-org:v3"
XDSB = "urn:ihe:iti:xds-b:2007"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
QUERY = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"

#: Prefixes used when we serialize and in XPath expressions (`tree.xpath(..., namespaces=NSMAP)`).
NSMAP: dict[str, str] = {
    "soap": SOAP,
    "wsa": WSA,
    "wsse": WSSE,
    "xop": XOP,
    "saml2": SAML2,
    "ds": DS,
    "xades": XADES,
    "xsi": XSI,
    "hl7": HL7,
    "xdsb": XDSB,
    "lcm": LCM,
    "rim": RIM,
    "rs": RS,
    "query": QUERY,
}


@functools.lru_cache(maxsize=128)
def hl7_xpath(path: str) -> etree.XPath:
    """`path` compiled once, with `h:` for HL7 v3 (`node.xpath(path)` compiles on every call)."""
    return etree.XPath(path, namespaces={"h": HL7})


def qname(ns: str, local: str) -> str:
    """Clark notation `{ns}local`, as lxml wants it."""
    return f"{{{ns}}}{local}"


# --- WS-Addressing actions (request, response) and the service each goes to ---------------------
ACTION_TD02 = "urn:hl7-org:v3:PRPA_IN201307UV02"
ACTION_TD02_RESPONSE = "urn:hl7-org:v3:PRPA_IN201308UV02"
ACTION_ITI41 = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
ACTION_ITI41_RESPONSE = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"
ACTION_ITI18 = "urn:ihe:iti:2007:RegistryStoredQuery"
ACTION_ITI18_RESPONSE = "urn:ihe:iti:2007:RegistryStoredQueryResponse"
ACTION_ITI57 = "urn:ihe:iti:2010:UpdateDocumentSet"
ACTION_ITI57_RESPONSE = "urn:ihe:iti:2010:UpdateDocumentSetResponse"
#: WS-Addressing fault action (SOAP faults carry it).
ACTION_FAULT = "http://www.w3.org/2005/08/addressing/soap/fault"

SERVICE_PATIENTS = "patients"
SERVICE_REPOSITORY = "repository"
SERVICE_REGISTRY = "registry"

#: Which service path (`<base>/<service>`) each request action is posted to.
SERVICE_OF_ACTION: dict[str, str] = {
    ACTION_TD02: SERVICE_PATIENTS,
    ACTION_ITI41: SERVICE_REPOSITORY,
    ACTION_ITI18: SERVICE_REGISTRY,
    ACTION_ITI57: SERVICE_REGISTRY,
}
#: The response action answering each request action.
RESPONSE_ACTION: dict[str, str] = {
    ACTION_TD02: ACTION_TD02_RESPONSE,
    ACTION_ITI41: ACTION_ITI41_RESPONSE,
    ACTION_ITI18: ACTION_ITI18_RESPONSE,
    ACTION_ITI57: ACTION_ITI57_RESPONSE,
}

# --- XDS classification / identification schemes (xds-metadata.md §2) -------------------------
SS_CLASSIFICATION_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SS_CONTENT_TYPE_CODE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"

DE_OBJECT_TYPE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DE_CLASS_CODE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_CONFIDENTIALITY_CODE = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_EVENT_CODE = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
DE_FORMAT_CODE = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_HEALTHCARE_FACILITY_TYPE_CODE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_PRACTICE_SETTING_CODE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

#: ExternalIdentifier `Name` values, by scheme.
EXTERNAL_IDENTIFIER_NAMES: dict[str, str] = {
    SS_PATIENT_ID: "XDSSubmissionSet.patientId",
    SS_SOURCE_ID: "XDSSubmissionSet.sourceId",
    SS_UNIQUE_ID: "XDSSubmissionSet.uniqueId",
    DE_PATIENT_ID: "XDSDocumentEntry.patientId",
    DE_UNIQUE_ID: "XDSDocumentEntry.uniqueId",
}

# --- Associations, statuses (xds-metadata.md §8) -----------------------------------------------
ASSOC_HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
ASSOC_SIGNS = "urn:ihe:iti:2007:AssociationType:signs"
ASSOC_RPLC = "urn:ihe:iti:2007:AssociationType:RPLC"
ASSOC_UPDATE_AVAILABILITY = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"

STATUS_APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
STATUS_DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
STATUS_DELETED = "urn:asip:ci-sis:2010:StatusType:Deleted"
STATUS_ARCHIVED = "urn:asip:ci-sis:2010:StatusType:Archived"

# --- RegistryResponse (dmp-interfaces.md §4.3) -------------------------------------------------
RESPONSE_SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
RESPONSE_FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
RESPONSE_PARTIAL_SUCCESS = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
SEVERITY_ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
SEVERITY_WARNING = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"

# --- ITI-18 stored queries (dmp-interfaces.md §6) ----------------------------------------------
QUERY_GET_DOCUMENTS = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"
QUERY_FIND_DOCUMENTS = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"

# --- Algorithms -------------------------------------------------------------------------------
C14N_WITH_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
MANIFEST_TYPE = "http://www.w3.org/2000/09/xmldsig#Manifest"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903/v1.1.1#SignedProperties"
#: Purpose of the submission-set signature (IHE DSG "Source").
PURPOSE_OF_SIGNATURE = "1.2.840.10065.1.12.1.14"
