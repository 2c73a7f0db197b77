import pytest
from hypothesis import given, strategies as st

from dmp_gateway.ins import Ins, InvalidIns, check_matricule, nir_key, oid_for, InsEnvironment

TEST_IDENTITIES = [
    "279035121518989", "162018885045327", "277076322082910",
    "207058575627097", "188102B17295264", "255069999999934",
]


@pytest.mark.parametrize("value", TEST_IDENTITIES)
def test_published_test_identities_have_valid_keys(value):
    assert check_matricule(value) is None


@pytest.mark.parametrize("value,rule", [
    ("27903512151898", "15 characters"),
    ("279035121518988", "control key"),
    ("2790351215189X9", "13 digits"),
    ("979035121518989", "13 digits"),
])
def test_bad_matricules_name_the_rule(value, rule):
    assert rule in check_matricule(value)


def test_ins_refuses_a_bad_key():
    with pytest.raises(InvalidIns):
        Ins("279035121518988", "1.2.250.1.213.1.4.10")


def test_cx_form():
    assert Ins("279035121518989", "1.2.250.1.213.1.4.10").cx == "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"


def test_environment_decides_the_oid_unless_the_system_names_one():
    assert oid_for("http://lifen.fr/fhir/Identifier/patient-nir-od", InsEnvironment.TEST) == "1.2.250.1.213.1.4.10"
    assert oid_for("urn:oid:1.2.250.1.213.1.4.11", InsEnvironment.PRODUCTION) == "1.2.250.1.213.1.4.11"
    assert oid_for(None, InsEnvironment.PRODUCTION, nia=True) == "1.2.250.1.213.1.4.9"


@given(st.from_regex(r"[12][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}", fullmatch=True))
def test_any_body_with_its_computed_key_is_valid(body):
    assert check_matricule(body + f"{nir_key(body):02d}") is None
