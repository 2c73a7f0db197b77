"""CDA R2 "structuration minimale" builder and PDF checks: plain dataclasses in, CDA bytes out.

FHIR-free: `dmp_gateway.fhir.cda_mapping` fills the inputs from the stored resources. Modules:
`inputs` (dataclasses), `checks` (rules, one error listing every problem), `header`, `record_target`,
`participants`, `context`, `body` (streamed base64 PDF), `builder` (entry points), `pdf` (pikepdf checks,
PDF/A claim), `pdfa` (policy, Ghostscript PDF/A-1b), `ids` (document OIDs), `valuesets` (ANS JDV codes),
`national_ids`, `nir_traits`, `timestamps`, `examples` (test identities for demos and benchmarks).
"""

from dmp_gateway.cda.builder import build_cda, build_header, write_cda
from dmp_gateway.cda.errors import CdaError, InvalidCdaInputs, PdfaConversionError, Problem
from dmp_gateway.cda.ids import mint_document_oid
from dmp_gateway.cda.inputs import (AuthoringDevice, CdaInputs, Code, DocumentMetadata, Gender, HealthProfessional,
                                    InstanceId, Organization, PatientIdentity)

__all__ = [
    "AuthoringDevice", "CdaError", "CdaInputs", "Code", "DocumentMetadata", "Gender", "HealthProfessional",
    "InstanceId", "InvalidCdaInputs", "Organization", "PatientIdentity", "PdfaConversionError", "Problem",
    "build_cda", "build_header", "mint_document_oid", "write_cda",
]
