"""`dmp-gateway demo` (`make demo`): the seed flow end to end on this machine, in well under a minute.

Starts the DMP simulator (mutual TLS; VIHF and XAdES signatures checked), the gateway and a delivery
worker as separate processes on the embedded default (`$DMPGW_DATA_DIR`, `.dmp-gateway` unless set),
creates a workspace and its practitioner, then sends the sample PDF with the seed guide's payloads
(seed-flow.md) for three patients of the simulator's default patients file: open DMP, closed DMP, no
DMP. Prints each outcome Communication and where to look further, then stops everything. The data
dir is kept, so `dmp-gateway cda CommunicationRequest/ID` still answers afterwards.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from urllib.parse import urlsplit

import httpx
import orjson
import yaml
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from dmp_gateway.config import Settings
from dmp_gateway.local_stack import FHIR_JSON, LocalStack, StackError, Workspace
from dmp_gateway.samples import sample_bytes, seed_bytes

#: Time allowed for the three deliveries once posted.
OUTCOME_TIMEOUT = 45.0


class DemoError(Exception):
    """The demo could not run a step; the message says which and why."""


@dataclass(frozen=True)
class DemoPatient:
    label: str
    ins: str
    family: str
    given: str
    #: What the Communication should say: `completed`, or the notDoneReason code.
    expected: str


@dataclass(frozen=True)
class Outcome:
    patient: DemoPatient
    request_id: str
    communication: dict

    @property
    def result(self) -> str:
        comm = self.communication
        return comm["status"] if comm["status"] == "completed" else comm["notDoneReason"]["coding"][0]["code"]


def demo_patients() -> list[DemoPatient]:
    """The first open, closed and absent DMP of the simulator's default patients file."""
    data = yaml.safe_load(files("dmp_gateway.dmp_simulator").joinpath("patients.yaml").read_text(encoding="utf-8"))
    first = {}
    for entry in data["patients"]:
        first.setdefault(entry["state"], str(entry["ins"]))
    wanted = (("open", "Open DMP", "PAT-TROIS", "Dominique", "completed"),
              ("closed", "Closed DMP", "DEMO-FERME", "Camille", "dmp-closed"),
              ("none", "No DMP", "DEMO-SANS", "Louise", "dmp-not-found"))
    missing = [state for state, *_ in wanted if state not in first]
    if missing:
        raise DemoError(f"the simulator's patients file has no patient with state {', '.join(missing)}")
    return [DemoPatient(label, first[state], family, given, expected)
            for state, label, family, given, expected in wanted]


def birth_date_from_nir(nir: str, today: date | None = None) -> str:
    """A birth date the NIR agrees with (its year and month digits; day 1, month 1 when unknown)."""
    today = today or date.today()
    yy, mm = int(nir[1:3]), int(nir[3:5])
    year = 2000 + yy if yy <= today.year % 100 else 1900 + yy
    return f"{year:04d}-{mm if 1 <= mm <= 12 else 1:02d}-01"


def patient_payload(patient: DemoPatient) -> bytes:
    """The seed guide's Patient, placeholders filled."""
    return seed_bytes("patient.json", {
        "xxxxxxxxxxxxxxx": patient.ins, '"xxxxxxx"': orjson.dumps(patient.family).decode(),
        '"xxxxxxxx"': orjson.dumps(patient.given).decode(), "YYYY-MM-DD": birth_date_from_nir(patient.ins)})


def document_reference_payload(ws: Workspace, patient_id: str, binary_id: str) -> bytes:
    """Our sample DocumentReference (the seed guide leaves its content to the integrator)."""
    practitioner_id = ws.practitioner.split("/", 1)[1]
    return sample_bytes("document_reference.json").replace(b"PATIENT_ID", patient_id.encode()) \
        .replace(b"PRACTITIONER_ID", practitioner_id.encode()).replace(b"BINARY_ID", binary_id.encode())


def communication_request_payload(ws: Workspace, patient_id: str, docref_id: str) -> bytes:
    """The seed guide's CommunicationRequest (IMMEDIATE_MODE), placeholders filled."""
    return seed_bytes("communication_request.json", {
        "Device/xxxxxxxxx": ws.dmp_device, "Device/xxxxxxx": ws.dmp_device, "Patient/XXXXXX": f"Patient/{patient_id}",
        "DocumentReference/xxxxxxxxx": f"DocumentReference/{docref_id}", "Practitioner/xxxxxxxxx": ws.practitioner,
        "Organization/xxxxxxxxx": ws.organization})


def send(c: httpx.Client, ws: Workspace, patient: DemoPatient, pdf: bytes) -> str:
    """Patient, Binary, DocumentReference, CommunicationRequest: the request's id."""

    def post(resource_type: str, body: bytes, content_type: str = FHIR_JSON) -> str:
        r = c.post(f"/{resource_type}", content=body, headers={"Content-Type": content_type})
        if r.status_code != 201:
            raise DemoError(f"POST {resource_type} answered {r.status_code}: {r.text[:800]}")
        return r.json()["id"]

    patient_id = post("Patient", patient_payload(patient))
    binary_id = post("Binary", pdf, "application/pdf")
    docref_id = post("DocumentReference", document_reference_payload(ws, patient_id, binary_id))
    return post("CommunicationRequest", communication_request_payload(ws, patient_id, docref_id))


def wait_for_outcomes(c: httpx.Client, sent: dict[str, DemoPatient], timeout: float = OUTCOME_TIMEOUT) -> list[Outcome]:
    """Poll `Communication?based-on=` (the seed client's way) until every request has its outcome."""
    deadline, found = time.monotonic() + timeout, {}
    while len(found) < len(sent):
        for request_id in sent.keys() - found.keys():
            bundle = c.get("/Communication", params={"based-on": f"CommunicationRequest/{request_id}"}).json()
            if bundle.get("total"):
                found[request_id] = bundle["entry"][0]["resource"]
        if len(found) < len(sent):
            if time.monotonic() > deadline:
                raise DemoError(f"no outcome after {timeout:.0f} s for CommunicationRequest/"
                                f"{', '.join(sent.keys() - found.keys())}")
            time.sleep(0.2)
    return [Outcome(patient, rid, found[rid]) for rid, patient in sent.items()]


def run_demo(settings: Settings) -> int:
    """Run the demo; 0 when the three Communications are the expected ones."""
    console = Console()
    started = time.monotonic()
    env = {}
    if shutil.which("gs") is None and "pdfa_policy" not in settings.model_fields_set:
        env["DMPGW_PDFA_POLICY"] = "accept"
    stack = LocalStack(settings.data_dir, env=env, isolated=False, keep_data=True, gateway_port=settings.port,
                       sim_port=urlsplit(settings.dmp_base_url).port or 9443)
    console.print(Panel.fit("[bold]dmp-gateway demo[/bold]: a PDF into the DMP of three patients, "
                            "as Lifen's seed flow does it", border_style="cyan"))
    try:
        with console.status("Starting PostgreSQL, the DMP simulator, the gateway and a worker…"):
            stack.start()
        _print_stack(console, stack, env)
        return _run_flows(console, stack, started)
    except (StackError, DemoError, httpx.HTTPError) as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        console.print(f"logs: {stack.logs}")
        return 1
    finally:
        with console.status("Stopping…"):
            stack.stop()
        console.print(f"Stopped. Took {time.monotonic() - started:.1f} s; data kept in {stack.data_dir}")


def _run_flows(console: Console, stack: LocalStack, started: float) -> int:
    patients = demo_patients()
    ws = stack.provision()
    console.print(f"[green]✓[/green] workspace {ws.id}: {ws.organization}, DMP channel {ws.dmp_device}, "
                  f"sender {ws.practitioner}")
    pdf = sample_bytes("compte-rendu.pdf")
    with stack.client(ws.token) as c:
        sent = {send(c, ws, p, pdf): p for p in patients}
        console.print(f"[green]✓[/green] posted Patient, Binary ({len(pdf)} bytes PDF), DocumentReference and "
                      f"CommunicationRequest (IMMEDIATE_MODE) for {len(sent)} patients")
        outcomes = wait_for_outcomes(c, sent)
    delivered = [o.communication["identifier"][0]["value"] for o in outcomes if o.result == "completed"]
    with stack.sim_client() as sim:
        cda_urls = [d["cda_url"] for unique_id in delivered
                    for d in sim.get("/_sim/documents", params={"unique_id": unique_id}).json()["documents"]]
    _print_outcomes(console, outcomes)
    _print_where_to_look(console, stack, outcomes, cda_urls)
    wrong = [o for o in outcomes if o.result != o.patient.expected]
    for o in wrong:
        console.print(f"[red]unexpected:[/red] {o.patient.label} gave {o.result}, expected {o.patient.expected}")
    if not wrong:
        console.print(f"[green]✓[/green] the three expected outcomes, {time.monotonic() - started:.1f} s after start")
    return 1 if wrong else 0


def _print_stack(console: Console, stack: LocalStack, env: dict[str, str]) -> None:
    console.print(f"[green]✓[/green] embedded PostgreSQL in {stack.data_dir / 'pg'}")
    console.print(f"[green]✓[/green] DMP simulator {stack.sim_url} (mutual TLS, VIHF and XAdES signatures checked)")
    console.print(f"[green]✓[/green] gateway {stack.fhir_url} and a delivery worker (separate processes)")
    if env.get("DMPGW_PDFA_POLICY") == "accept":
        console.print("[yellow]![/yellow] Ghostscript not found: the PDF is sent as is, not converted to PDF/A-1b")


def _print_outcomes(console: Console, outcomes: list[Outcome]) -> None:
    table = Table(title="Outcomes: GET Communication?based-on=CommunicationRequest/ID", show_lines=True, expand=True)
    table.add_column("patient", ratio=2, min_width=15)
    table.add_column("Communication", ratio=2, min_width=16)
    table.add_column("details", ratio=5, overflow="fold")
    for o in outcomes:
        comm = o.communication
        if comm["status"] == "completed":
            status, detail = "[green]completed[/green]", f"in the DMP as uniqueId {comm['identifier'][0]['value']}"
        else:
            status = f"[red]entered-in-error[/red]\nnotDoneReason [bold]{o.result}[/bold]"
            detail = comm["notDoneReason"].get("text", "")
        table.add_row(f"{o.patient.label}\nINS {o.patient.ins}", status,
                      f"CommunicationRequest/{o.request_id}\n{detail}")
    console.print(table)


def _print_where_to_look(console: Console, stack: LocalStack, outcomes: list[Outcome], cda_urls: list[str]) -> None:
    default_dir = stack.data_dir == Settings().data_dir.expanduser().resolve()
    prefix = "" if default_dir else f"DMPGW_DATA_DIR={stack.data_dir} "
    certs = stack.settings.effective_certs_dir
    lines = [f"Operator console: {stack.gateway_url}/console (coming with the console; `dmp-gateway serve` "
             "serves it)", "The CDA of each request, as built and sent:"]
    lines += [f"  {prefix}dmp-gateway cda CommunicationRequest/{o.request_id}" for o in outcomes
              if o.result == "completed" or o.patient.expected == "completed"]
    lines += [f"As the simulated DMP received it: {stack.sim_url}{url}" for url in cda_urls]
    lines.append(f"  (mutual TLS, while `{prefix}dmp-gateway dmp-sim --tls --port {stack.sim_port}` runs: "
                 f"curl --cacert {certs}/ca.pem --cert {certs}/org-auth-cli.pem --key {certs}/org-auth-cli.key URL)")
    lines.append(f"Everything the simulator holds: {stack.sim_url}/_sim/documents")
    console.print(Panel("\n".join(lines), title="Where to look", border_style="cyan"))
