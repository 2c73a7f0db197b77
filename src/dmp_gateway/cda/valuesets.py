"""Value sets the structuration-minimale rules bind (JDV_J07, J02, J04, J01, J143, confidentiality).

The codes and display names live in `valuesets.json`, generated from the ANS kit's own value-set files
(`../shared/ans-cda-kit`, TestContenuCDA 3.0 @7cd489b, NOS value sets dated 2024-09-27/12-13) with
``python -m dmp_gateway.cda.valuesets --regen ../shared/ans-cda-kit``. A test checks the two agree.
Only codes whose code system is an OID are kept: CDA `@codeSystem` must be one (JDV_J07 also lists
``E1762``/``ASTM``, which no CDA header can carry).
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from dmp_gateway.cda.inputs import Code

_JSON = Path(__file__).with_name("valuesets.json")
_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))*$")
_VOC_DIR = "schematrons/profils/structurationMinimale/include"

#: name -> (OID, where the kit keeps it). JDV_J07's ART-DECOR file is missing from the kit; its SVS is used.
_SOURCES = {
    "JDV_J07_XdsTypeCode_CISIS": ("1.2.250.1.213.1.1.5.471", "jeuxDeValeurs/JDV_J07_XdsTypeCode_CISIS.xml"),
    "JDV_J02_XdsHealthcareFacilityTypeCode_CISIS": ("1.2.250.1.213.1.1.5.466", None),
    "JDV_J04_XdsPracticeSettingCode_CISIS": ("1.2.250.1.213.1.1.5.467", None),
    "JDV_J01_XdsAuthorSpecialty_CISIS": ("1.2.250.1.213.1.1.5.461", None),
    "JDV_J143_AdministrativeGender_CISIS": ("1.2.250.1.213.1.1.5.590", None),
    "Confidentiality": ("2.16.840.1.113883.1.11.10228", None),
}
#: The DMP accepts only these confidentiality codes in the CDA (JDV_J58 restricted to HL7 N/R/V).
_DMP_CONFIDENTIALITY = {"N", "R", "V"}


@dataclass(frozen=True)
class ValueSet:
    """A value set: its name, OID and concepts by code."""

    name: str
    oid: str
    concepts: dict[str, Code]

    def get(self, code: str | None) -> Code | None:
        """The concept with this code, or None."""
        return self.concepts.get(code) if code else None

    def __contains__(self, code: object) -> bool:
        return code in self.concepts

    def contains(self, value: Code) -> bool:
        """True when both the code and its code system belong to the value set."""
        known = self.concepts.get(value.code)
        return known is not None and known.code_system == value.code_system


@cache
def _load() -> dict[str, ValueSet]:
    raw = json.loads(_JSON.read_text(encoding="utf-8"))
    return {
        name: ValueSet(name, entry["oid"], {c[0]: Code(c[0], c[1], c[2]) for c in entry["concepts"]})
        for name, entry in raw.items()
    }


def type_codes() -> ValueSet:
    """JDV_J07_XdsTypeCode_CISIS: ClinicalDocument/code (XDS typeCode)."""
    return _load()["JDV_J07_XdsTypeCode_CISIS"]


def facility_types() -> ValueSet:
    """JDV_J02: healthCareFacility/code (XDS healthcareFacilityTypeCode), TRE_R02 and A00 codes."""
    return _load()["JDV_J02_XdsHealthcareFacilityTypeCode_CISIS"]


def practice_settings() -> ValueSet:
    """JDV_J04: standardIndustryClassCode (XDS practiceSettingCode), TRE_A01 and A00 codes."""
    return _load()["JDV_J04_XdsPracticeSettingCode_CISIS"]


def specialties() -> ValueSet:
    """JDV_J01: assignedAuthor/code (XDS authorSpecialty)."""
    return _load()["JDV_J01_XdsAuthorSpecialty_CISIS"]


def genders() -> ValueSet:
    """JDV_J143: administrativeGenderCode (F, M, UN)."""
    return _load()["JDV_J143_AdministrativeGender_CISIS"]


def confidentialities() -> ValueSet:
    """Confidentiality codes the DMP accepts in the CDA header (N, R, V)."""
    return _load()["Confidentiality"]


# --- regeneration from the ANS kit (development tool) -----------------------------------------

def _concepts_from_voc(path: Path) -> list[tuple[str, str, str]]:
    tree = etree.parse(str(path))
    return [(c.get("code"), c.get("codeSystem"), c.get("displayName"))
            for c in tree.iterfind(".//conceptList/concept")]


def _concepts_from_svs(path: Path) -> list[tuple[str, str, str]]:
    tree = etree.parse(str(path))
    return [(c.get("code"), c.get("codeSystem"), c.get("displayName"))
            for c in tree.iterfind(".//{urn:ihe:iti:svs:2008}Concept")]


def extract_from_kit(kit_root: Path) -> dict[str, dict[str, object]]:
    """Read the value sets from the ANS kit tree; the result is what `valuesets.json` holds."""
    out: dict[str, dict[str, object]] = {}
    for name, (oid, svs) in _SOURCES.items():
        if svs:
            concepts = _concepts_from_svs(kit_root / svs)
        else:
            concepts = _concepts_from_voc(kit_root / _VOC_DIR / f"voc-{oid}-DYNAMIC.xml")
        kept = [list(c) for c in concepts if c[0] and c[1] and _OID.match(c[1]) and c[2]]
        if name == "Confidentiality":
            kept = [c for c in kept if c[0] in _DMP_CONFIDENTIALITY]
        out[name] = {"oid": oid, "concepts": kept}
    return out


def _dump(data: dict[str, dict[str, object]]) -> str:
    """JSON with one concept per line, so that a kit update reads as a small diff."""
    blocks = []
    for name, entry in data.items():
        rows = ",\n".join("    " + json.dumps(c, ensure_ascii=False) for c in entry["concepts"])
        blocks.append(f'  {json.dumps(name)}: {{"oid": {json.dumps(entry["oid"])}, "concepts": [\n{rows}\n  ]}}')
    return "{\n" + ",\n".join(blocks) + "\n}\n"


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regen", metavar="KIT_ROOT", required=True, type=Path)
    args = parser.parse_args(argv)
    data = extract_from_kit(args.regen)
    _JSON.write_text(_dump(data), encoding="utf-8")
    print(f"wrote {_JSON} ({sum(len(v['concepts']) for v in data.values())} concepts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
