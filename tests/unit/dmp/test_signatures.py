"""VIHF (enveloped XML-DSig) and XAdES (submission set) signatures verify with signxml and the dev CA,
and tampering breaks them (dmp-interfaces.md §4.4, §7)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from lxml import etree

from dmp_gateway.dmp.devcerts import generate
from dmp_gateway.dmp.namespaces import SAML2, qname
from dmp_gateway.dmp.vihf import ATTR_RESOURCE_ID, ATTR_ROLE, REQUIRED_ATTRIBUTES, VihfError, build_vihf, verify_vihf
from dmp_gateway.dmp.xades import XadesError, build_submission_signature, verify_submission_signature

NOW = dt.datetime(2026, 1, 15, 10, 30, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("algorithm", ["rsa-sha256", "rsa-sha1"])
def test_vihf_verifies_and_carries_every_required_attribute(signer, pki, algorithm, kit_ins, profile):
    profile = dataclasses.replace(profile, signature_algorithm=algorithm)
    assertion = build_vihf(profile, kit_ins, signer, now=NOW)
    claims = verify_vihf(assertion, str(pki.ca_cert))
    assert claims.issuer == claims.signer_dn == signer.issuer_dn
    assert set(REQUIRED_ATTRIBUTES) <= set(claims.attributes)
    assert claims.first(ATTR_RESOURCE_ID) == kit_ins.cx
    assert claims.attributes[ATTR_ROLE] == ("AUTOMATE^1.2.250.1.213.1.1.4.6",)
    assert claims.first("Identifiant_Structure") == signer.structure_id
    assert claims.first("VIHF_Version") == "3.0"
    assert claims.first("Ressource_URN") == "urn:dmp"
    method = assertion.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureMethod").get("Algorithm")
    assert method.endswith(algorithm)


def test_vihf_signature_sits_right_after_issuer(signer, kit_ins, profile):
    assertion = build_vihf(profile, kit_ins, signer, now=NOW)
    assert [etree.QName(c).localname for c in assertion][:3] == ["Issuer", "Signature", "Subject"]


def test_tampered_vihf_attribute_fails(signer, pki, kit_ins, profile):
    assertion = build_vihf(profile, kit_ins, signer, now=NOW)
    for value in assertion.iter(qname(SAML2, "AttributeValue")):
        if value.text == kit_ins.cx:
            value.text = "162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH"
    with pytest.raises(VihfError):
        verify_vihf(etree.fromstring(etree.tostring(assertion)), str(pki.ca_cert))


def test_vihf_from_another_ca_is_not_trusted(signer, tmp_path, kit_ins, profile):
    other = generate(tmp_path / "other")
    with pytest.raises(VihfError):
        verify_vihf(build_vihf(profile, kit_ins, signer, now=NOW), str(other.ca_cert))


@pytest.mark.parametrize("algorithm", ["rsa-sha1", "rsa-sha256"])
def test_xades_verifies_against_the_documents(signer, pki, kit_cda, algorithm):
    signature = build_submission_signature(
        signer, submission_set_unique_id="2.25.1", documents={"1.2.3.4": kit_cda}, signature_id="sig-1",
        signing_time=NOW, algorithm=algorithm)
    verified = verify_submission_signature(signature, {"1.2.3.4": kit_cda}, ca_pem_file=str(pki.ca_cert),
                                           submission_set_unique_id="2.25.1")
    assert verified.referenced_unique_ids == ("2.25.1", "1.2.3.4")
    assert verified.signing_time == "2026-01-15T10:30:00Z"
    manifest = etree.fromstring(signature).find(".//{http://www.w3.org/2000/09/xmldsig#}Manifest")
    assert manifest.get("Id") == "IHEManifest"
    assert manifest[0].findtext("{http://www.w3.org/2000/09/xmldsig#}DigestValue") == "AA=="


def test_one_changed_byte_of_the_cda_breaks_the_manifest(signer, pki, kit_cda):
    signature = build_submission_signature(
        signer, submission_set_unique_id="2.25.1", documents={"1.2.3.4": kit_cda}, signature_id="sig-1",
        signing_time=NOW)
    position = kit_cda.index(b"PAT-TROIS") + 4
    tampered = kit_cda[:position] + b"X" + kit_cda[position + 1:]
    with pytest.raises(XadesError, match="digest of document 1.2.3.4"):
        verify_submission_signature(signature, {"1.2.3.4": tampered}, ca_pem_file=str(pki.ca_cert))


def test_xades_tampered_manifest_or_wrong_submission_set_fails(signer, pki, kit_cda):
    signature = build_submission_signature(
        signer, submission_set_unique_id="2.25.1", documents={"1.2.3.4": kit_cda}, signature_id="sig-1",
        signing_time=NOW)
    with pytest.raises(XadesError):
        verify_submission_signature(signature.replace(b"urn:oid:2.25.1", b"urn:oid:2.25.2"), {"1.2.3.4": kit_cda},
                                    ca_pem_file=str(pki.ca_cert))
    with pytest.raises(XadesError):
        verify_submission_signature(signature, {"1.2.3.4": kit_cda}, ca_pem_file=str(pki.ca_cert),
                                    submission_set_unique_id="2.25.9")
    with pytest.raises(XadesError, match="does not reference"):
        verify_submission_signature(signature, {"9.9": kit_cda}, ca_pem_file=str(pki.ca_cert))
