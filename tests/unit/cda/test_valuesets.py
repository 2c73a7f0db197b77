"""The packaged value sets: lookups, and agreement with the ANS kit they were generated from."""

from __future__ import annotations

from dmp_gateway.cda import valuesets


def test_lookups():
    assert valuesets.type_codes().get("11488-4").display_name == "CR ou fiche de consultation ou de visite"
    assert "46241-6" not in valuesets.type_codes()  # obsolete, rejected by the DMP
    assert "E1762" not in valuesets.type_codes()  # ASTM, not an OID code system
    assert valuesets.facility_types().get("SA07").code_system == "1.2.250.1.71.4.2.4"
    assert valuesets.facility_types().get("EXP_PATIENT").code_system == "1.2.250.1.213.1.1.4.6"
    assert valuesets.practice_settings().get("AMBULATOIRE").code_system == "1.2.250.1.213.1.1.4.9"
    assert set(valuesets.confidentialities().concepts) == {"N", "R", "V"}
    assert set(valuesets.genders().concepts) == {"F", "M", "UN"}
    assert valuesets.specialties().get(None) is None


def test_packaged_json_matches_the_kit(shared_dir):
    """Regenerate with `python -m dmp_gateway.cda.valuesets --regen ../shared/ans-cda-kit` if this fails."""
    extracted = valuesets.extract_from_kit(shared_dir / "ans-cda-kit")
    packaged = {name: {"oid": vs.oid, "concepts": [[c.code, c.code_system, c.display_name]
                                                   for c in vs.concepts.values()]}
                for name, vs in valuesets._load().items()}
    assert packaged == extracted
