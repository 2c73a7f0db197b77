"""`dmp-gateway`: one command for operators, integrators and developers.

Commands stay thin: parse options, call the package that does the work, print the result.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dmp_gateway.config import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="FHIR STU3 gateway to the French DMP.")
workspace_app = typer.Typer(no_args_is_help=True, help="Workspaces (healthcare organizations) and their DMP Device.")
client_app = typer.Typer(no_args_is_help=True, help="OAuth2 client-credentials applications.")
app.add_typer(workspace_app, name="workspace")
app.add_typer(client_app, name="client")
err = Console(stderr=True)


def settings() -> Settings:
    return Settings()


@app.callback()
def _logging() -> None:
    """FHIR STU3 gateway to the French DMP."""
    from dmp_gateway.observability import configure_logging

    try:
        configure_logging(settings())
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command("config")
def config_cmd() -> None:
    """Print the effective configuration (environment DMPGW_*), secrets masked."""
    print(json.dumps(settings().masked(), indent=2, default=str))


@app.command()
def migrate() -> None:
    """Apply the database migrations (automatic for `serve` on the embedded default)."""
    from dmp_gateway.bootstrap import prepare_database
    from dmp_gateway.store.migrate import current_revision

    url = prepare_database(settings(), run_migrations=True)
    err.print(f"database at revision {current_revision(url)}")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Listen address (DMPGW_HOST).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Listen port (DMPGW_PORT).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="uvicorn worker processes (DMPGW_WORKERS).")] = None,
) -> None:
    """Run the FHIR API (and, on the embedded default, a delivery worker in the same process)."""
    import uvicorn

    from dmp_gateway.bootstrap import prepare_database

    # Worker processes rebuild Settings from the environment: pass the options through it.
    for name, value in (("DMPGW_HOST", host), ("DMPGW_PORT", port), ("DMPGW_WORKERS", workers)):
        if value is not None:
            os.environ[name] = str(value)
    cfg = settings()
    prepare_database(cfg)
    target = "dmp_gateway.fhir.app:app_from_environment"
    options = {"factory": True, "host": cfg.host, "port": cfg.port, "log_level": cfg.log_level.lower(),
               "access_log": False, "log_config": None}
    if cfg.workers > 1:
        # uvicorn's process supervisor handles its children's signals itself.
        uvicorn.run(target, workers=cfg.workers, **options)
        return
    from dmp_gateway.serving import GracefulServer

    GracefulServer(uvicorn.Config(target, **options), f"dmp-gateway API ready on http://{cfg.host}:{cfg.port}/fhir/v2").run()


@workspace_app.command("create")
def workspace_create(
    name: Annotated[str, typer.Option(help="Name of the healthcare organization.")],
    finess: Annotated[Optional[str], typer.Option(help="FINESS number (9 digits).")] = None,
    siret: Annotated[Optional[str], typer.Option(help="SIRET number (14 digits).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Create a workspace: its Organization and its DMP channel Device."""
    from dmp_gateway.bootstrap import open_services
    from dmp_gateway.fhir.workspaces import check_workspace_fields, provision_workspace

    try:
        check_workspace_fields(name, finess, siret)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None

    async def run():  # noqa: ANN202
        services = await open_services(settings())
        try:
            return await provision_workspace(services, name, finess=finess, siret=siret)
        finally:
            await services.close()

    try:
        ws = asyncio.run(run())
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({"workspace": ws.id, "organization": ws.organization, "dmp_device": ws.dmp_device}))
    else:
        print(f"workspace {ws.id}\norganization {ws.organization}\nDMP device {ws.dmp_device}")


@workspace_app.command("list")
def workspace_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the workspaces."""
    from dmp_gateway.bootstrap import open_services

    async def run():  # noqa: ANN202
        services = await open_services(settings())
        try:
            return await services.workspaces.list()
        finally:
            await services.close()

    rows = asyncio.run(run())
    if as_json:
        for ws in rows:
            print(json.dumps({"workspace": ws.id, "name": ws.name, "organization": ws.organization,
                              "dmp_device": ws.dmp_device, "created_at": ws.created_at.isoformat()}))
        return
    table = Table("workspace", "name", "DMP device", "created")
    for ws in rows:
        table.add_row(ws.id, ws.name, ws.dmp_device, ws.created_at.strftime("%Y-%m-%d %H:%M"))
    Console().print(table)


@app.command()
def token(
    workspace: Annotated[str, typer.Option(help="Workspace id (the currentWorkspaceId claim).")],
    identity: Annotated[list[str], typer.Option(help="Reference the user may send as, e.g. Practitioner/12; repeatable.")],
    scopes: Annotated[str, typer.Option(help='Space-separated scopes, e.g. "PATIENT_CREATE BINARY_CREATE".')],
    ttl: Annotated[Optional[int], typer.Option(help="Lifetime in seconds.")] = None,
) -> None:
    """Print a user access token from the embedded issuer (last line of stdout), for development."""
    from dmp_gateway.auth.cli_support import issue_dev_token

    print(issue_dev_token(settings(), workspace, identity, scopes, ttl=ttl))


@client_app.command("add")
def client_add(
    client_id: Annotated[str, typer.Option(help="client_id of the application.")],
    workspace: Annotated[str, typer.Option(help="Workspace the application acts in.")],
    scopes: Annotated[str, typer.Option(help="Space-separated scopes.")],
    database_reference: Annotated[Optional[str], typer.Option(help="Lifen-style database_reference.")] = None,
    organization: Annotated[Optional[str], typer.Option(help="The application's Organization (requester).")] = None,
) -> None:
    """Register a client-credentials application; prints its secret once (stored hashed)."""
    from dmp_gateway.auth.cli_support import add_client

    from dmp_gateway.auth.clients import ClientsFileError

    try:
        client, secret = add_client(settings(), client_id, workspace, scopes,
                                    database_reference=database_reference, organization=organization)
    except ClientsFileError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    print(json.dumps({"client_id": client.client_id, "client_secret": secret}))


@app.command()
def worker(
    concurrency: Annotated[Optional[int], typer.Option(help="Jobs in flight (DMPGW_WORKER_CONCURRENCY).")] = None,
) -> None:
    """Run delivery workers alone (scale-out: N processes on N machines against one PostgreSQL)."""
    from dmp_gateway.bootstrap import open_services, prepare_database, run_delivery_worker

    cfg = settings()
    if concurrency is not None:
        cfg = cfg.model_copy(update={"worker_concurrency": concurrency})

    async def run() -> None:
        # SIGTERM/SIGINT cancel the worker (procrastinate lets jobs in flight finish), then the command
        # returns normally, so the embedded PostgreSQL is released.
        task = asyncio.current_task()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        services = await open_services(cfg, prepare_database(cfg))
        if cfg.metrics_port is not None:
            from dmp_gateway.observability import start_metrics_server

            start_metrics_server(cfg.metrics_port)
        # As `serve` and `dmp-sim` do: with 128 jobs in flight the collector's full passes over the
        # start-up heap took 70 ms each (the event loop stopped) and 3 % of the worker's CPU.
        import dmp_gateway.delivery.tasks  # noqa: F401 - loaded before the heap is frozen
        import dmp_gateway.dmp.wiring  # noqa: F401
        import dmp_gateway.fhir.documents  # noqa: F401
        from dmp_gateway.serving import settle_heap

        settle_heap()
        try:
            err.print("dmp-gateway worker started")
            await run_delivery_worker(services)
        except asyncio.CancelledError:
            pass
        finally:
            await services.close()

    try:  # uvloop (a uvicorn[standard] dependency) costs the worker about 10 % less CPU
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(run())
    else:
        uvloop.run(run())


@app.command()
def cda(
    request: Annotated[str, typer.Argument(help="CommunicationRequest/ID (or just ID).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
) -> None:
    """Print the CDA that is (or would be) sent for a CommunicationRequest."""
    import sys

    from dmp_gateway.bootstrap import open_services
    from dmp_gateway.delivery.ports import DocumentProblem
    from dmp_gateway.fhir.documents import RequestDocuments
    from dmp_gateway.store.errors import ResourceNotFound

    request_id = request.split("/", 1)[1] if request.startswith("CommunicationRequest/") else request

    async def run() -> bytes:
        services = await open_services(settings())
        try:
            sent = await services.deliveries.cda_bytes(request_id)
            if sent is not None:
                return sent
            try:
                delivery = await services.deliveries.get(request_id)
                unique_id = delivery.unique_id
            except ResourceNotFound:
                unique_id = None
            documents = RequestDocuments(services.resources, services.settings)
            return (await documents.build(request_id, unique_id)).cda
        finally:
            await services.close()

    try:
        data = asyncio.run(run())
    except (DocumentProblem, ResourceNotFound) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if output:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


@app.command()
def demo() -> None:
    """Run the seed flow end to end on the embedded default and print what happened."""
    from dmp_gateway.demo import run_demo

    raise typer.Exit(run_demo(settings()))


@app.command("dev-certs")
def dev_certs(
    directory: Annotated[Path, typer.Argument(help="Where to write the PEM files (e.g. $DMPGW_DATA_DIR/certs).")],
    structure_id: Annotated[str, typer.Option(help="Structure id (Struct_IdNat) put in the certificates' OU.")] = "1120459876",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing files.")] = False,
) -> None:
    """Generate a test CA, a localhost server certificate and ORG_AUTH_CLI / ORG_SIGN certificates (dev only)."""
    from dmp_gateway.dmp.devcerts import generate
    from dmp_gateway.dmp.errors import Configuration

    try:
        paths = generate(directory, structure_id=structure_id, overwrite=overwrite)
    except Configuration as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    for path in paths.all:
        print(path)


@app.command("dmp-sim")
def dmp_sim(
    port: Annotated[int, typer.Option(help="Listen port.")] = 9443,
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    patients: Annotated[Optional[Path], typer.Option(help="YAML/JSON patients file (default: the test identities).")] = None,
    tls: Annotated[bool, typer.Option("--tls", help="HTTPS with a required client certificate (DMPGW_CERTS_DIR).")] = False,
    strict_cda: Annotated[bool, typer.Option("--strict-cda", help="Also run the structuration-minimale schematron.")] = False,
    cda_kit: Annotated[Optional[Path], typer.Option(help="ANS CDA kit folder (default ../shared/ans-cda-kit).")] = None,
    xml_schemas: Annotated[Optional[Path], typer.Option(help="XDS/HL7v3 XSD folder (default ../shared/xml-schemas).")] = None,
    trust: Annotated[Optional[list[Path]], typer.Option(help="Extra CA bundle (PEM) trusted for signatures; repeatable.")] = None,
    faults: Annotated[Optional[Path], typer.Option(help="JSON fault plan applied at start (see docs/dmp-simulator.md).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes on the socket (fault plan and counters shared in PostgreSQL).")] = 1,
) -> None:
    """Run the DMP simulator (TD0.2, ITI-41, ITI-18, ITI-57) for the gateway or your own DMP software."""
    from pydantic import ValidationError

    from dmp_gateway.dmp.errors import Configuration
    from dmp_gateway.dmp_simulator import run
    from dmp_gateway.dmp_simulator.patients import PatientsFileError, load_patients
    from dmp_gateway.dmp_simulator.wiring import simulator_config

    try:
        load_patients(patients)
        config = simulator_config(settings(), host=host, port=port, patients=patients, tls=tls, strict_cda=strict_cda,
                                  cda_kit=cda_kit, xml_schemas=xml_schemas, trust=trust or [], faults=faults,
                                  workers=workers)
    except (PatientsFileError, Configuration, ValidationError, ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    from dmp_gateway.store.embedded import stop_embedded

    try:
        run(config)
    finally:
        stop_embedded()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
