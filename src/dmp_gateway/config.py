"""Effective configuration: environment variables with the `DMPGW_` prefix (pydantic-settings).

Only `bootstrap.py`, `cli.py` and the entry points read settings; the packages they wire take plain
values or dataclasses, so they can be reused (the simulator) and tested without an environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dmp_gateway.ins import InsEnvironment


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DMPGW_", extra="ignore")

    # --- storage -------------------------------------------------------------------------------
    #: Where the embedded PostgreSQL (`pg/`), certificates (`certs/`) and keys live.
    data_dir: Path = Path(".dmp-gateway")
    #: External PostgreSQL; when unset, an embedded server is started in `$DMPGW_DATA_DIR/pg`.
    database_url: SecretStr | None = None
    #: Connections per process in the pool (API replicas + workers must stay under max_connections).
    db_pool_min: int = 2
    db_pool_max: int = 20

    # --- HTTP API ------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    #: uvicorn worker processes for `serve`.
    workers: int = 1
    #: Largest Binary accepted, in bytes (413 beyond, before the body is read whole).
    binary_max_bytes: int = 20 * 1024 * 1024
    #: Largest JSON body for other resources.
    json_max_bytes: int = 2 * 1024 * 1024
    #: Trust X-Forwarded-Proto/Host/Prefix when building absolute links.
    trust_forwarded_headers: bool = True
    #: HTTP status for an If-Match version mismatch (STU3 says 409, R4 412).
    version_conflict_status: int = 409
    #: Check that the NIR's sex/year/month agree with the Patient (switch off for test identities).
    nir_consistency_checks: bool = False

    # --- OAuth2 / OIDC -------------------------------------------------------------------------
    #: Issuer expected in tokens; unset = the embedded issuer (urn:dmp-gateway:embedded-issuer).
    oidc_issuer: str | None = None
    oidc_audience: str = "https://dmp-gateway.local/"
    #: JWKS to verify tokens; unset = the embedded issuer's own key.
    oidc_jwks_url: str | None = None
    #: Algorithm of the embedded issuer.
    token_algorithm: Literal["ES256", "RS256"] = "ES256"
    token_ttl_seconds: int = 172800
    #: client_credentials clients (YAML/JSON): client_id, secret hash, workspace, scopes.
    clients_file: Path | None = None
    # auth/ fields (bootstrap_auth reads them)
    #: Clock skew tolerated on exp/nbf/iat, in seconds.
    token_leeway_seconds: int = 30
    #: Verified tokens kept per process (LRU); 0 verifies every request's signature.
    token_cache_size: int = 4096
    #: Total time allowed to fetch DMPGW_OIDC_JWKS_URL.
    oidc_jwks_timeout_seconds: float = 5.0

    # --- CDA -----------------------------------------------------------------------------------
    #: Root OID under which document ids (CDA id, XDS uniqueId) are minted.
    document_root_oid: str = "1.2.250.1.999.1.1"
    #: Which DMP platform: decides the INS OID (.4.8/.4.9 production, .4.10 test, .4.11 demo).
    ins_environment: InsEnvironment = InsEnvironment.TEST
    #: What to do with a PDF that is not PDF/A: convert (Ghostscript, PDF/A-1b), accept, reject.
    pdfa_policy: Literal["convert", "accept", "reject"] = "convert"

    # --- DMP connection ------------------------------------------------------------------------
    #: Base URL of the DMP services (`/patients`, `/repository`, `/registry` are appended).
    dmp_base_url: str = "https://127.0.0.1:9443/si-dmp-server/v2/services"
    #: ORG_AUTH_CLI / ORG_SIGN certificates and the CA bundle; default `$DMPGW_DATA_DIR/certs`.
    certs_dir: Path | None = None
    dmp_connect_timeout: float = 10.0
    dmp_read_timeout: float = 60.0
    #: VIHF attributes.
    vihf_version: str = "3.0"
    vihf_signature_algorithm: Literal["rsa-sha256", "rsa-sha1"] = "rsa-sha256"
    #: Seconds a signed VIHF is reused for further calls about the same patient (0: sign every call).
    vihf_reuse_seconds: float = Field(default=300.0, ge=0, le=3600)
    authentication_mode: Literal["INDIRECTE_RENFORCEE", "INDIRECTE"] = "INDIRECTE_RENFORCEE"
    secteur_activite: str = "SA01^1.2.250.1.71.4.2.4"
    lps_name: str = "dmp-gateway"
    lps_version: str = "0.1.0"
    lps_homologation_id: str = "DMPGW-DEV"
    #: VIHF Subject/NameID: the person responsible for the automated processing (PS_IdNat); default LPS name.
    vihf_name_id: str | None = None
    #: VIHF subject-id: software name, model and service (never patient data); default "<lps_name> <lps_version>".
    vihf_subject_id: str | None = None
    #: XAdES submission-set signature algorithm (the ANS samples use rsa-sha1).
    xades_signature_algorithm: Literal["rsa-sha1", "rsa-sha256"] = "rsa-sha1"
    #: XDS times in UTC (IHE); false keeps the CDA's local times.
    dmp_times_utc: bool = True

    # --- delivery ------------------------------------------------------------------------------
    retry_max_attempts: int = 8
    retry_base_delay_seconds: float = 60.0
    retry_max_delay_seconds: float = 3600.0
    #: Jobs in flight per worker. They mostly wait for the DMP (TD0.2 + ITI-41, often ~1 s together), holding
    #: no database connection meanwhile. With a DMP answering in 500 ms, 64 capped a worker at about 50
    #: documents/s, 128 did not (benchmarks/end_to_end.py). Each job waiting holds its CDA (1.33x the PDF).
    worker_concurrency: int = Field(default=128, ge=1, le=1024)
    #: How often an idle worker looks for scheduled retries that became due (new jobs wake it at once).
    worker_polling_seconds: float = 2.0
    #: A worker without a heartbeat for this long counts as dead (killed, crashed) and its running jobs are
    #: re-queued; live workers send a heartbeat every sixth of it.
    worker_stalled_after_seconds: float = Field(default=30.0, gt=0)
    #: `serve` also runs a worker in-process (the embedded default).
    serve_runs_worker: bool = True

    # --- logging -------------------------------------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = False
    #: `dmp-gateway worker` serves its Prometheus metrics (delivery outcomes) on this port; unset = none.
    metrics_port: int | None = None

    @property
    def effective_certs_dir(self) -> Path:
        return self.certs_dir or self.data_dir / "certs"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def effective_issuer(self) -> str:
        # Not derived from host/port: a token minted by `dmp-gateway token` must verify whatever
        # address the server listens on.
        return self.oidc_issuer or "urn:dmp-gateway:embedded-issuer"

    def masked(self) -> dict[str, object]:
        """The effective configuration with secrets masked, for `dmp-gateway config`."""
        out: dict[str, object] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = _mask_url(value.get_secret_value())
            elif isinstance(value, Path):
                out[name] = str(value)
            elif hasattr(value, "value"):
                out[name] = value.value
            else:
                out[name] = value
        return out


def _mask_url(secret: str) -> str:
    """Hide the password of a URL but keep host and database, which operators need to see."""
    if "://" in secret and "@" in secret:
        scheme, rest = secret.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return "***"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


__all__ = ["Settings", "load_settings", "Field"]
