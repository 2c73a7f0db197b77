"""SimulatorConfig: everything `create_app` and `server.run` need, as plain values (no environment reads)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dmp_gateway.dmp_simulator.faults import FaultPlan
from dmp_gateway.dmp_simulator.vihf import VihfPolicy

#: The DMP's services live under this path (dmp-interfaces.md §2.1).
BASE_PATH = "/si-dmp-server/v2/services"
#: The DMP repository's uniqueId (xds-metadata.md §3, TLSI-KIT).
DMP_REPOSITORY_UNIQUE_ID = "1.2.250.1.213.4.1.1.1.2"
_REPO_ROOT = Path(__file__).resolve().parents[3]


def shared_dir() -> Path | None:
    """`../shared` next to the repository root (reference material), when present."""
    candidate = _REPO_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


def default_cda_kit() -> Path | None:
    shared = shared_dir()
    kit = shared / "ans-cda-kit" if shared else None
    return kit if kit is not None and kit.is_dir() else None


def default_xml_schemas() -> Path | None:
    shared = shared_dir()
    schemas = shared / "xml-schemas" if shared else None
    return schemas if schemas is not None and schemas.is_dir() else None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Server certificate and key (PEM), and the CA bundle that client certificates must chain to."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path


@dataclass(slots=True)
class SimulatorConfig:
    """How one simulator instance behaves."""

    #: PostgreSQL holding the `dmp_sim` schema (the embedded default or DMPGW_DATABASE_URL).
    database_url: str
    #: YAML/JSON patients file; None = the default shipped with the package.
    patients_file: Path | None = None
    #: PEM bundles of the CAs trusted for VIHF and XAdES signing certificates (and TLS clients).
    trust_anchors: tuple[Path, ...] = ()
    #: HTTPS with a required client certificate; None = plain HTTP (the TLS structure check is skipped).
    tls: TlsFiles | None = None
    #: Also run the structuration-minimale schematron on every CDA.
    strict_cda: bool = False
    #: The ANS CDA kit (CDA_extended.xsd, schematron, value sets); None = CDAs are not validated.
    cda_kit: Path | None = field(default_factory=default_cda_kit)
    #: The XDS/ebRS/HL7v3 XSDs (../shared/xml-schemas); None = metadata is not schema-validated.
    xml_schemas: Path | None = field(default_factory=default_xml_schemas)
    faults: FaultPlan = field(default_factory=FaultPlan)
    vihf: VihfPolicy = field(default_factory=VihfPolicy)
    #: Time source for certificate validity and VIHF expiry (tests inject a fixed clock).
    clock: Callable[[], datetime] = utc_now
    host: str = "127.0.0.1"
    port: int = 9443
    base_path: str = BASE_PATH
    repository_unique_id: str = DMP_REPOSITORY_UNIQUE_ID
    #: Connections in the simulator's pool (per worker process).
    db_pool_size: int = 10
    #: Worker processes serving the socket (`--workers`). More than one keeps the fault plan and the counters
    #: in PostgreSQL (state.SharedState), so that every worker applies and counts the same.
    workers: int = 1
