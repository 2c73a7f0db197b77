"""Build a `SoapDmp` from `Settings` (called by bootstrap.py and the CLI; the rest of dmp/ takes plain values).

Certificates come from `DMPGW_CERTS_DIR` (default `$DMPGW_DATA_DIR/certs`, file names in
`dmp.certs`); in the embedded default an empty directory is filled with dev certificates first.
An `http://` base URL is accepted for local testing (no TLS, warning logged); signatures are still made.
"""

from __future__ import annotations

import logging

import httpcore
import httpx

from dmp_gateway.config import Settings
from dmp_gateway.dmp import devcerts
from dmp_gateway.dmp.certs import CertPaths, client_ssl_context, load_signing_identity
from dmp_gateway.dmp.client import ConnectorConfig, SoapDmp
from dmp_gateway.dmp.errors import Configuration
from dmp_gateway.dmp.network import AsyncioBackend
from dmp_gateway.dmp.transport import ClientShards
from dmp_gateway.dmp.vihf import VihfProfile

log = logging.getLogger(__name__)

#: Kept-alive DMP connections per httpcore pool (transport.ClientShards).
_CONNECTIONS_PER_SHARD = 8
#: An idle DMP connection is closed after this long (httpx's default).
_KEEPALIVE_SECONDS = 5.0


def connector_config(settings: Settings, structure_id: str) -> ConnectorConfig:
    vihf = VihfProfile(
        structure_id=structure_id,
        name_id=settings.vihf_name_id or settings.lps_name,
        subject_id=settings.vihf_subject_id or f"{settings.lps_name} {settings.lps_version}",
        version=settings.vihf_version,
        authentication_mode=settings.authentication_mode,
        secteur_activite=settings.secteur_activite,
        lps_name=settings.lps_name,
        lps_version=settings.lps_version,
        lps_homologation_id=settings.lps_homologation_id,
        signature_algorithm=settings.vihf_signature_algorithm,
    )
    return ConnectorConfig(
        base_url=settings.dmp_base_url, lps_oid=settings.document_root_oid, vihf=vihf,
        utc_times=settings.dmp_times_utc, xades_algorithm=settings.xades_signature_algorithm,
        vihf_reuse_seconds=settings.vihf_reuse_seconds,
    )


def soap_dmp_from_settings(settings: Settings) -> SoapDmp:
    """A ready `SoapDmp`; raises `Configuration` when certificates are missing or inconsistent."""
    certs_dir = settings.effective_certs_dir
    paths = devcerts.ensure(certs_dir) if settings.embedded else CertPaths.in_dir(certs_dir)
    signer = load_signing_identity(paths.sign_cert, paths.sign_key)
    structure_id = signer.structure_id
    if not structure_id:
        raise Configuration("the ORG_SIGN certificate has no OU (structure id)", code="CERTIFICATE_ERROR")
    timeout = httpx.Timeout(settings.dmp_read_timeout, connect=settings.dmp_connect_timeout)
    # One kept-alive connection per job in flight: with fewer, jobs waiting on a slow DMP paid a new
    # mutual-TLS handshake per request (CPU on both sides). Spread over small pools (ClientShards).
    shards = max(1, -(-settings.worker_concurrency // _CONNECTIONS_PER_SHARD))
    if settings.dmp_base_url.startswith("http://"):
        log.warning("DMP base URL uses plain http: no TLS, no client certificate (local testing only)")
        context = None
    elif settings.dmp_base_url.startswith("https://"):
        context = client_ssl_context(paths)
    else:
        raise Configuration(f"DMPGW_DMP_BASE_URL must be http(s)://, got {settings.dmp_base_url!r}")
    backend = AsyncioBackend()
    pools = [httpcore.AsyncConnectionPool(ssl_context=context, max_keepalive_connections=_CONNECTIONS_PER_SHARD,
                                          keepalive_expiry=_KEEPALIVE_SECONDS, network_backend=backend)
             for _ in range(shards)]
    return SoapDmp(client=ClientShards(pools, timeout), config=connector_config(settings, structure_id),
                   signer=signer)


__all__ = ["connector_config", "soap_dmp_from_settings"]
