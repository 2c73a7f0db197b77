"""Value sets the DMP metadata is coded from (xds-metadata.md §3-§7).

When the ANS CDA kit is available (../shared/ans-cda-kit or `--cda-kit`), typeCode (JDV_J07, SVS file),
healthcareFacilityTypeCode (JDV_J02) and practiceSettingCode (JDV_J04) are read from it; otherwise the
built-in sets below are used and typeCode is only checked for its code system.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

LOINC = "2.16.840.1.113883.6.1"
CISIS_TYPE_CODES = "1.2.250.1.213.1.1.4.12"
#: JDV_J57-ClassCode-DMP, code system TRE_A03.
CLASS_CODE_SYSTEM = "1.2.250.1.213.1.1.4.1"
CLASS_CODES = frozenset({"10", "11", "31", "42", "43", "44", "45", "52", "60", "90", "95"})
#: JDV_J60-FormatCode-DMP: IHE/CI-SIS format codes; DICOM KOS (XDS-I) uses the DICOM scheme.
FORMAT_CODE_SYSTEMS = frozenset({"1.3.6.1.4.1.19376.1.2.3", "1.2.840.10008.2.6.1", "1.2.250.1.213.1.1.4.2.282"})
#: JDV_J58 confidentialityCode: HL7 Confidentiality and TRE_A07.
CONFIDENTIALITY = frozenset(
    {("N", "2.16.840.1.113883.5.25"), ("R", "2.16.840.1.113883.5.25"), ("V", "2.16.840.1.113883.5.25")}
    | {(c, "1.2.250.1.213.1.1.4.13") for c in ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX")}
)
FACILITY_SYSTEM = "1.2.250.1.71.4.2.4"
PRACTICE_SYSTEM = "1.2.250.1.213.1.1.4.9"
_NON_PS = "1.2.250.1.213.1.1.4.6"
_PRACTICE_CODES = frozenset(
    {(c, PRACTICE_SYSTEM) for c in ("AMBULATOIRE", "AMO", "DEPISTAGE", "ESSMS", "ETABLISSEMENT", "HAD", "MAD",
                                    "PALLIATIF", "SAD", "SAMU_SMUR")}
    | {("EXP_PATIENT", _NON_PS), ("SNR", _NON_PS)}
)
#: JDV_J59-ContentTypeCode-DMP code systems.
CONTENT_TYPE_SYSTEMS = frozenset({"1.2.250.1.213.1.1.4.6", "1.2.250.1.213.2.2", "1.2.250.1.71.4.2.4"})
#: The signature entry's fixed codes (xds-metadata.md §5).
SIGNATURE_CLASS = ("urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN")
SIGNATURE_TYPE = ("E1762", "ASTM")
SIGNATURE_FORMAT = ("http://www.w3.org/2000/09/xmldsig#", "URN")

_VOC_DIR = Path("schematrons/profils/structurationMinimale/include")


@dataclass(frozen=True, slots=True)
class ValueSets:
    """The sets in force; `type_codes` is None when the kit's JDV_J07 is not available."""

    type_codes: frozenset[tuple[str, str]] | None
    #: (code, code system) pairs; None = any `SAxx` code of TRE_R02.
    facility_codes: frozenset[tuple[str, str]] | None
    practice_codes: frozenset[tuple[str, str]]

    @classmethod
    def load(cls, kit: Path | None) -> "ValueSets":
        if kit is None:
            return cls(None, None, _PRACTICE_CODES)
        type_codes = _svs_codes(kit / "jeuxDeValeurs" / "JDV_J07_XdsTypeCode_CISIS.xml")
        facility = _artdecor_codes(kit / _VOC_DIR / "voc-1.2.250.1.213.1.1.5.466-DYNAMIC.xml")
        practice = _artdecor_codes(kit / _VOC_DIR / "voc-1.2.250.1.213.1.1.5.467-DYNAMIC.xml")
        return cls(
            frozenset(type_codes) if type_codes else None,
            frozenset(facility) if facility else None,
            frozenset(practice) if practice else _PRACTICE_CODES,
        )

    def type_code_ok(self, code: str, system: str | None) -> bool:
        if self.type_codes is None:
            return system in (LOINC, CISIS_TYPE_CODES) and bool(code)
        return (code, system or "") in self.type_codes

    def facility_ok(self, code: str, system: str | None) -> bool:
        if self.facility_codes is not None:
            return (code, system or "") in self.facility_codes
        return system == FACILITY_SYSTEM and code.startswith("SA")

    def practice_ok(self, code: str, system: str | None) -> bool:
        return (code, system or "") in self.practice_codes


def _svs_codes(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    tree = etree.parse(str(path))
    return [(c.get("code", ""), c.get("codeSystem", "")) for c in tree.iter("{urn:ihe:iti:svs:2008}Concept")]


def _artdecor_codes(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    tree = etree.parse(str(path))
    return [(c.get("code", ""), c.get("codeSystem", "")) for c in tree.iter("concept", "exception")]
