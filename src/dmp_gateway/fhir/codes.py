"""Systems and codes of the Lifen contract (seed-flow.md) and of the gateway's own CodeSystems."""

PROCESSING_MODE_SYSTEM = "http://lifen.fr/fhir/tag/processing/mode"
IMMEDIATE_MODE = "IMMEDIATE_MODE"
ACTIVE_DEVICES_EXTENSION = "http://lifen.fr/fhir/StructureDefinition/communicationrequest-active-devices"
CATEGORY_SYSTEMS = ("http://lifen.fr/fhir/CodeSystem/communication-category",
                    "http://lifen.fr/fhir/ValueSet/communication-category")
DEFAULT_TAG = {"system": "https://www.lifen.fr/default", "code": "DEFAULT", "display": "Default tag"}
MEDIUM_SYSTEM = "http://lifen.fr/fhir/CodeSystem/communication-medium"

#: The gateway's own systems.
GATEWAY = "https://dmp-gateway.org/fhir"
CHANNEL_SYSTEM = f"{GATEWAY}/CodeSystem/channel"
DMP_CHANNEL = "DMP"
WORKSPACE_SYSTEM = f"{GATEWAY}/Identifier/workspace"
XDS_UNIQUE_ID_SYSTEM = f"{GATEWAY}/Identifier/xds-unique-id"

FINESS_SYSTEMS = ("urn:oid:1.2.250.1.71.4.2.2", "http://finess.sante.gouv.fr")
SIRET_SYSTEMS = ("urn:oid:1.2.250.1.71.4.2.2.3", "http://sirene.fr", "https://sirene.fr")
RPPS_SYSTEMS = ("urn:oid:1.2.250.1.71.4.2.1", "http://lifen.fr/fhir/Identifier/practitioner-rpps")
CDA_SET_ID_SYSTEM = f"{GATEWAY}/Identifier/cda-set-id"
CDA_VERSION_SYSTEM = f"{GATEWAY}/Identifier/cda-version-number"
DELIVERY_REASON_SYSTEM = f"{GATEWAY}/CodeSystem/delivery-failure-reason"
DMP_ERROR_SYSTEM = f"{GATEWAY}/CodeSystem/dmp-error-code"
