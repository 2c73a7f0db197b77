"""The embedded issuer's signing key: created once, private, shared by processes that start together."""

import base64
import hashlib
import json
import multiprocessing
import stat

import pytest

from dmp_gateway.auth.keys import _publish, key_path, load_or_create_signing_key


def rfc7638_thumbprint(public_jwk: dict) -> str:
    """RFC 7638 §3: SHA-256 of the required members only, sorted, without whitespace."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[public_jwk["kty"]]
    canonical = json.dumps({name: public_jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("algorithm,kty", [("ES256", "EC"), ("RS256", "RSA")])
def test_key_is_created_private_and_reused(tmp_path, algorithm, kty):
    keys_dir = tmp_path / "keys"
    key = load_or_create_signing_key(keys_dir, algorithm)
    path = key_path(keys_dir, algorithm)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert (key.alg, key.get("use"), key.key_type) == (algorithm, "sig", kty)
    assert key.kid == rfc7638_thumbprint(key.as_dict(private=False))
    assert load_or_create_signing_key(keys_dir, algorithm).kid == key.kid


def test_each_algorithm_has_its_own_key(tmp_path):
    es = load_or_create_signing_key(tmp_path, "ES256")
    rs = load_or_create_signing_key(tmp_path, "RS256")
    assert es.kid != rs.kid
    assert sorted(p.name for p in tmp_path.iterdir()) == ["issuer-es256.pem", "issuer-rs256.pem"]


def test_a_key_published_first_is_never_replaced(tmp_path):
    path = tmp_path / "keys" / "issuer-es256.pem"
    _publish(path, b"first")
    _publish(path, b"second")
    assert path.read_bytes() == b"first"
    assert [p.name for p in path.parent.iterdir()] == ["issuer-es256.pem"]  # no temporary file left


def _load_kid(keys_dir, barrier, results):
    barrier.wait()
    results.put(load_or_create_signing_key(keys_dir, "ES256").kid)


def test_processes_starting_together_agree_on_one_key(tmp_path):
    context = multiprocessing.get_context("fork")
    count = 4
    barrier, results = context.Barrier(count), context.Queue()
    processes = [context.Process(target=_load_kid, args=(tmp_path, barrier, results)) for _ in range(count)]
    for process in processes:
        process.start()
    kids = {results.get(timeout=30) for _ in range(count)}
    for process in processes:
        process.join(timeout=30)
    assert len(kids) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["issuer-es256.pem"]
