"""Identity traits a NIR spells out: sex (digit 1) and INSEE birth place (digits 6-10).

With an INS the CDA must carry the patient's sex and birth place (INS traits rule, cda-structuration-
minimale.md §3), which the seed's Patient lacks; ins-nir.md §2 reads them from the NIR. Only numbers whose
first digit is 1 or 2 are read: 7/8 mark provisional numbers whose digits promise nothing.
"""

from __future__ import annotations

import re

from dmp_gateway.cda.inputs import Gender
from dmp_gateway.ins import Ins

#: INSEE COG code: 5 digits, Corsica 2A/2B + 3 digits; 99xxx = a country (birth abroad).
COG_PATTERN = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_SEX_DIGITS = {"1": Gender.MALE, "2": Gender.FEMALE}


def readable(ins: Ins) -> bool:
    """True when the NIR's digits describe the person (sex digit 1 or 2)."""
    return ins.sex_digit in _SEX_DIGITS


def gender_from_nir(ins: Ins) -> Gender | None:
    """M for a first digit 1, F for 2, None otherwise (provisional numbers)."""
    return _SEX_DIGITS.get(ins.sex_digit)


def birth_place_from_nir(ins: Ins) -> str | None:
    """COG of the birth place: department + commune (97x/98x + 2 digits overseas, 99 + country abroad)."""
    if not readable(ins):
        return None
    code = ins.birth_place_code()
    return code if code and COG_PATTERN.match(code) else None


def contradicts(ins: Ins, gender: Gender | None) -> bool:
    """True when the NIR's sex digit says the opposite of a known M/F gender."""
    from_nir = gender_from_nir(ins)
    return from_nir is not None and gender in (Gender.MALE, Gender.FEMALE) and gender is not from_nir
