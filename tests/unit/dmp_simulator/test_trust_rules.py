from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dmp_gateway.dmp_simulator.iti18 import query_values
from dmp_gateway.dmp_simulator.testkit.pki import issue, make_ca
from dmp_gateway.dmp_simulator.trust import TrustStore, UntrustedCertificate, parse_dn, same_dn, structure_id

NOW = datetime(2025, 6, 2, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ca():
    return make_ca()


def test_dn_comparison_ignores_order_spacing_and_escapes(ca):
    leaf = issue(ca, "DRIMbox, test", ou="499700367909006")
    text = r"CN=DRIMbox\, test, OU=499700367909006, O=CENTRE HOSPITALIER DE TEST, ST=Paris (75), C=FR"
    assert same_dn(text, leaf.certificate.subject)
    assert not same_dn(text.replace("499700367909006", "1"), leaf.certificate.subject)
    assert parse_dn("S=Paris,CN=x") == [("CN", "x"), ("ST", "Paris")]


def test_chain_to_an_anchor_with_validity(ca):
    leaf = issue(ca, "ORG_SIGN")
    store = TrustStore([ca.certificate])
    store.verify(leaf.certificate, NOW)
    assert structure_id(leaf.certificate) == "499700367909006"
    with pytest.raises(UntrustedCertificate, match="not issued by a trusted CA"):
        TrustStore([make_ca().certificate]).verify(leaf.certificate, NOW)
    old = issue(ca, "OLD", not_before=NOW - timedelta(days=30), days=10)
    with pytest.raises(UntrustedCertificate, match="expired"):
        store.verify(old.certificate, NOW)
    future = issue(ca, "FUTURE", not_before=NOW + timedelta(days=1))
    with pytest.raises(UntrustedCertificate, match="not valid before"):
        store.verify(future.certificate, NOW)


def test_stored_query_values():
    assert query_values(["('1.2.3', '4.5')"]) == ["1.2.3", "4.5"]
    assert query_values(["'a^^^&1.2&ISO^NH'"]) == ["a^^^&1.2&ISO^NH"]
    assert query_values(["('it''s')", "plain"]) == ["it's", "plain"]
