"""Document OIDs, national ids of professionals and structures, traits read from a NIR."""

from __future__ import annotations

import pytest

from dmp_gateway.cda.ids import MAX_OID_LENGTH, is_oid, mint_document_oid
from dmp_gateway.cda.inputs import Gender
from dmp_gateway.cda.national_ids import (StructureKind, normalize_structure_id, ps_national_id_from_rpps,
                                          structure_kind, structure_national_id, system_national_id)
from dmp_gateway.cda.nir_traits import birth_place_from_nir, contradicts, gender_from_nir
from dmp_gateway.ins import OID_NIR_TEST, Ins, nir_key


def nir(first13: str) -> Ins:
    return Ins(first13 + f"{nir_key(first13):02d}", OID_NIR_TEST)


def test_minted_oids_are_unique_oids_under_the_root():
    minted = {mint_document_oid("1.2.250.1.999.1.1") for _ in range(2000)}
    assert len(minted) == 2000
    for oid in minted:
        assert oid.startswith("1.2.250.1.999.1.1.") and is_oid(oid)
        assert len(oid) <= MAX_OID_LENGTH
        assert not oid.rsplit(".", 1)[1].startswith("0")


def test_a_long_root_gets_fewer_random_digits_but_stays_within_64_characters():
    root = "1.2.250.1.999.1.1.8121.4.77.12345.678"  # 37 characters: room for 26 digits, not 38
    assert len(mint_document_oid(root)) == 64
    assert len(mint_document_oid(root).rsplit(".", 1)[1]) == 26


@pytest.mark.parametrize("root", ["1.2.250.1.999." + ".".join(["123456"] * 7), "not-an-oid", "1.02.3", ""])
def test_unusable_roots_are_refused(root):
    with pytest.raises(ValueError):
        mint_document_oid(root)


def test_rpps_becomes_ps_idnat_with_prefix_8():
    assert ps_national_id_from_rpps("10002422979") == "810002422979"
    assert ps_national_id_from_rpps("810002422979") == "810002422979"
    assert ps_national_id_from_rpps("1000242297") is None
    assert ps_national_id_from_rpps("1000242297X") is None


def test_structure_ids_get_their_directory_prefix():
    assert structure_national_id(StructureKind.FINESS, "120459876") == "1120459876"
    assert structure_national_id(StructureKind.SIRET, "12345678901234") == "312345678901234"
    assert structure_national_id(StructureKind.FINESS, "12345") is None
    assert normalize_structure_id("2264403106") == "2264403106"  # already prefixed (SIREN)
    assert normalize_structure_id("2A0000021") == "12A0000021"  # Corsican FINESS
    assert structure_kind("312345678901234") is StructureKind.SIRET
    assert structure_kind("9123") is None


def test_software_author_id_uses_the_ps_prefix_of_its_structure():
    assert system_national_id("1120459876", "dmp-gateway") == "3120459876/dmp-gateway"
    assert system_national_id("312345678901234", "gw") == "512345678901234/gw"
    assert system_national_id("bogus", "gw") is None


def test_sex_and_birth_place_are_read_from_a_nir():
    kit_identity = Ins("279035121518989", OID_NIR_TEST)
    assert gender_from_nir(kit_identity) is Gender.FEMALE
    assert birth_place_from_nir(kit_identity) == "51215"
    assert gender_from_nir(nir("1620188850453")) is Gender.MALE
    assert birth_place_from_nir(Ins("188102B17295264", OID_NIR_TEST)) == "2B172"  # Corsica
    assert birth_place_from_nir(nir("1850597105123")) == "97105"  # overseas: 3-digit department
    assert birth_place_from_nir(nir("2850599134123")) == "99134"  # abroad: 99 + country


def test_provisional_numbers_tell_nothing():
    provisional = nir("7850575056123")
    assert gender_from_nir(provisional) is None
    assert birth_place_from_nir(provisional) is None
    assert not contradicts(provisional, Gender.FEMALE)


def test_a_sex_digit_contradicting_the_gender_is_detected():
    woman = Ins("279035121518989", OID_NIR_TEST)
    assert contradicts(woman, Gender.MALE)
    assert not contradicts(woman, Gender.FEMALE)
    assert not contradicts(woman, Gender.UNKNOWN)
