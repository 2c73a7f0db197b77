"""Read the simulator's answers the way a DMP client does (tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from lxml import etree

from dmp_gateway.dmp import namespaces as ns


@dataclass
class Answer:
    """What came back, read the way a DMP client reads it."""

    http: httpx.Response
    envelope: etree._Element | None

    @property
    def body(self) -> etree._Element:
        return self.envelope.find(ns.qname(ns.SOAP, "Body"))[0]

    @property
    def status(self) -> str | None:
        return self.body.get("status")

    @property
    def error_codes(self) -> list[str]:
        return [e.get("errorCode") for e in self.body.iter(ns.qname(ns.RS, "RegistryError"))]

    @property
    def contexts(self) -> list[str]:
        return [e.get("codeContext") for e in self.body.iter(ns.qname(ns.RS, "RegistryError"))]

    @property
    def fault_code(self) -> str | None:
        value = self.body.find(f"{ns.qname(ns.SOAP, 'Code')}/{ns.qname(ns.SOAP, 'Value')}")
        return value.text if value is not None else None

    @property
    def fault_subcode(self) -> str | None:
        value = self.body.find(f".//{ns.qname(ns.SOAP, 'Subcode')}/{ns.qname(ns.SOAP, 'Value')}")
        return value.text if value is not None else None

    @property
    def success(self) -> bool:
        return self.http.status_code == 200 and self.status == ns.RESPONSE_SUCCESS

    def header(self, local: str) -> str | None:
        return self.envelope.findtext(f"{ns.qname(ns.SOAP, 'Header')}/{ns.qname(ns.WSA, local)}")


def read_answer(response: httpx.Response) -> Answer:
    content_type = response.headers.get("content-type", "")
    data = response.content
    if content_type.startswith("multipart/related"):
        boundary = content_type.split('boundary="', 1)[1].split('"', 1)[0].encode()
        part = data.split(b"--" + boundary)[1]
        data = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    envelope = etree.fromstring(data) if content_type.startswith(("multipart/related", "application/soap+xml")) else None
    return Answer(response, envelope)
