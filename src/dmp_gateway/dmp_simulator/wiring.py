"""Build a SimulatorConfig from the gateway's Settings and `dmp-gateway dmp-sim` options (called by cli.py).

State lives where the gateway's does: `DMPGW_DATABASE_URL`, else the embedded PostgreSQL under
`DMPGW_DATA_DIR`. Certificates come from `DMPGW_CERTS_DIR` (default `$DMPGW_DATA_DIR/certs`, the files of
`dmp-gateway dev-certs`); on the embedded default a missing set is generated, as the gateway does.
"""

from __future__ import annotations

from pathlib import Path

from dmp_gateway.config import Settings
from dmp_gateway.dmp_simulator.config import SimulatorConfig, TlsFiles, default_cda_kit, default_xml_schemas
from dmp_gateway.dmp_simulator.faults import FaultPlan


def simulator_config(
    settings: Settings, *, host: str, port: int, patients: Path | None, tls: bool, strict_cda: bool,
    cda_kit: Path | None, xml_schemas: Path | None, trust: list[Path], faults: Path | None, workers: int = 1,
) -> SimulatorConfig:
    """The configuration `dmp-gateway dmp-sim` runs with; raises ValueError naming what is missing."""
    from dmp_gateway.dmp import devcerts
    from dmp_gateway.dmp.certs import CertPaths
    from dmp_gateway.store.embedded import database_url

    certs_dir = settings.effective_certs_dir
    paths = devcerts.ensure(certs_dir) if settings.embedded else CertPaths.in_dir(certs_dir)
    anchors = [paths.ca_cert] if paths.ca_cert.exists() else []
    anchors += trust
    if not anchors:
        raise ValueError(f"no CA to trust: {paths.ca_cert} is missing (run `dmp-gateway dev-certs` or give --trust)")
    tls_files = None
    if tls:
        missing = [p for p in (paths.server_cert, paths.server_key, paths.ca_cert) if not p.exists()]
        if missing:
            raise ValueError(f"--tls needs {', '.join(str(p) for p in missing)} (run `dmp-gateway dev-certs`)")
        tls_files = TlsFiles(paths.server_cert, paths.server_key, paths.ca_cert)
    kit = cda_kit or default_cda_kit()
    plan = FaultPlan.model_validate_json(faults.read_text(encoding="utf-8")) if faults else FaultPlan()
    return SimulatorConfig(
        database_url=database_url(settings), patients_file=patients, trust_anchors=tuple(anchors), tls=tls_files,
        strict_cda=strict_cda, cda_kit=kit, xml_schemas=xml_schemas or default_xml_schemas(), faults=plan,
        host=host, port=port, workers=workers,
    )
