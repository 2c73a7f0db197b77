"""How the simulator says no: a RegistryResponse Failure, or a SOAP fault when no RegistryResponse fits.

    SimulatorRejection
      Rejected     RegistryResponse Failure with one or more rs:RegistryError (ITI-41/18/57 semantics)
      SoapFault    SOAP 1.2 fault: the envelope, WS-Addressing or body cannot be processed at all

Error codes (../shared/domain/dmp-interfaces.md §9; IHE ITI TF-3 Table 4.2.4.1-2). The DMP's own ITI-41 codes
for a closed DMP, an invalid VIHF or an invalid XAdES are not publicly documented: the simulator uses the
`DMP*` codes below for them and documents them in docs/dmp-simulator.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmp_gateway.dmp.namespaces import SEVERITY_ERROR

# --- IHE codes --------------------------------------------------------------------------------------
REGISTRY_METADATA_ERROR = "XDSRegistryMetadataError"
REPOSITORY_METADATA_ERROR = "XDSRepositoryMetadataError"
PATIENT_ID_DOES_NOT_MATCH = "XDSPatientIdDoesNotMatch"
UNKNOWN_PATIENT_ID = "XDSUnknownPatientId"
DUPLICATE_UNIQUE_ID_IN_REGISTRY = "XDSDuplicateUniqueIdInRegistry"
DUPLICATE_UNIQUE_ID_IN_MESSAGE = "XDSRegistryDuplicateUniqueIdInMessage"
MISSING_DOCUMENT = "XDSMissingDocument"
MISSING_DOCUMENT_METADATA = "XDSMissingDocumentMetadata"
INVALID_DOCUMENT_CONTENT = "InvalidDocumentContent"
REPOSITORY_BUSY = "XDSRepositoryBusy"
REGISTRY_ERROR = "XDSRegistryError"
DEPRECATED_DOCUMENT = "XDSRegistryDeprecatedDocumentError"
STORED_QUERY_PARAM = "XDSStoredQueryParamNumber"
UNKNOWN_STORED_QUERY = "XDSUnknownStoredQuery"
UNRESOLVED_REFERENCE = "UnresolvedReferenceException"
METADATA_UPDATE_ERROR = "XDSMetadataUpdateError"
# --- DMP codes (simulator's choice; the real ones are not public) ---------------------------------
INVALID_VIHF = "DMPInvalidVIHF"
AUTHENTICATION_ERROR = "DMPAuthenticationError"
INVALID_SIGNATURE = "DMPInvalidSignature"
DMP_CLOSED = "DMPClosed"


@dataclass(frozen=True, slots=True)
class RegistryErrorSpec:
    """One rs:RegistryError to put in the answer."""

    code: str
    #: Readable text for a human: which rule, which value.
    context: str
    #: The object it is about (an entry id or uniqueId), when there is one.
    location: str | None = None
    severity: str = SEVERITY_ERROR


class SimulatorRejection(Exception):
    """The simulator refuses the request."""


class Rejected(SimulatorRejection):
    """The request is understood but breaks a rule: answer a RegistryResponse with status Failure."""

    def __init__(self, code: str, context: str, location: str | None = None) -> None:
        super().__init__(f"{code}: {context}")
        self.errors: list[RegistryErrorSpec] = [RegistryErrorSpec(code, context, location)]

    @classmethod
    def many(cls, errors: list[RegistryErrorSpec]) -> "Rejected":
        first = errors[0]
        rejection = cls(first.code, first.context, first.location)
        rejection.errors = list(errors)
        return rejection

    @property
    def code(self) -> str:
        return self.errors[0].code


class SoapFault(SimulatorRejection):
    """The message cannot be processed as SOAP: answer a SOAP 1.2 Fault (HTTP 500, as the DMP does).

    `code` is the SOAP 1.2 fault code local name (`Sender`, `Receiver`, `VersionMismatch`,
    `MustUnderstand`); `subcode` a qualified name `(namespace, local)` such as WS-Addressing's
    `ActionNotSupported` (W3C WS-Addressing 1.0 SOAP Binding §6.4).
    """

    def __init__(self, code: str, reason: str, subcode: tuple[str, str] | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.subcode = subcode
