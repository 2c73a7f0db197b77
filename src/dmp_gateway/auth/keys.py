"""The embedded issuer's signing key: one PEM file per algorithm in `$DMPGW_DATA_DIR/keys/`, mode 0600.

Several processes (uvicorn workers, the worker, the CLI) may start at once on an empty data dir. Each
one generates a candidate key in a private temporary file and publishes it with `os.link`, which fails
if the final name already exists: the first link wins and every other process reads the winner's key,
so all of them sign and verify with the same key.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from joserfc import jwk
from joserfc.jwk import ECKey, RSAKey

SigningAlgorithm = Literal["ES256", "RS256"]
SigningKey = ECKey | RSAKey

_KEY_CLASSES: dict[str, type[ECKey] | type[RSAKey]] = {"ES256": ECKey, "RS256": RSAKey}


def key_path(keys_dir: Path, algorithm: SigningAlgorithm) -> Path:
    return keys_dir / f"issuer-{algorithm.lower()}.pem"


def load_or_create_signing_key(keys_dir: Path, algorithm: SigningAlgorithm = "ES256") -> SigningKey:
    """The issuer key for `algorithm`, generated on first use; `kid` is its RFC 7638 thumbprint."""
    path = key_path(keys_dir, algorithm)
    if not path.exists():
        _publish(path, _generate_pem(algorithm))
    return import_signing_key(path.read_bytes(), algorithm)


def import_signing_key(pem: bytes, algorithm: SigningAlgorithm) -> SigningKey:
    """A private key as joserfc needs it to sign and to publish in the JWKS (alg, use, kid set)."""
    key_class = _KEY_CLASSES[algorithm]
    kid = key_class.import_key(pem).thumbprint()
    return key_class.import_key(pem, parameters={"alg": algorithm, "use": "sig", "kid": kid})


def _generate_pem(algorithm: SigningAlgorithm) -> bytes:
    key: SigningKey = jwk.generate_key("EC", "P-256") if algorithm == "ES256" else jwk.generate_key("RSA", 2048)
    return key.as_pem(private=True)


def _publish(path: Path, pem: bytes) -> None:
    """Write `pem` to `path` unless another process got there first (then keep theirs)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".issuer-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp_name, path)
        except FileExistsError:
            pass  # another process published its key first: everyone uses that one
    finally:
        os.unlink(temp_name)


__all__ = ["load_or_create_signing_key", "import_signing_key", "key_path", "SigningKey", "SigningAlgorithm"]
