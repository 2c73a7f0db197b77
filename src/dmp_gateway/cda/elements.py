"""Small lxml helpers for HL7 v3 data types (II, CE, TS, ST); every CDA module builds through them."""

from __future__ import annotations

from lxml import etree

from dmp_gateway.cda.inputs import Code, Timestamp
from dmp_gateway.cda.ns import hl7
from dmp_gateway.cda.timestamps import format_ts

Element = etree._Element


def sub(parent: Element, local: str, **attributes: str) -> Element:
    """A child element in the HL7 namespace, with attributes in the order given."""
    child = etree.SubElement(parent, hl7(local))
    for name, value in attributes.items():
        child.set(name, value)
    return child


def text(parent: Element, local: str, value: str, **attributes: str) -> Element:
    """A child element holding text (ST, ENXP parts); lxml escapes it."""
    child = sub(parent, local, **attributes)
    child.text = value
    return child


def ii(parent: Element, local: str, root: str, extension: str | None = None) -> Element:
    """An II: root OID, and the extension when the id is not the root itself."""
    if extension is None:
        return sub(parent, local, root=root)
    return sub(parent, local, root=root, extension=extension)


def coded(parent: Element, local: str, value: Code) -> Element:
    """A CE/CD with code, codeSystem and displayName (all three are required by the CI-SIS rules)."""
    return sub(parent, local, code=value.code, codeSystem=value.code_system, displayName=value.display_name)


def ts(parent: Element, local: str, value: Timestamp) -> Element:
    """A TS element with its value attribute."""
    return sub(parent, local, value=format_ts(value))


def interval(parent: Element, local: str, low: Timestamp, high: Timestamp | None) -> Element:
    """An IVL_TS with low and, when known, high."""
    element = sub(parent, local)
    ts(element, "low", low)
    if high is not None:
        ts(element, "high", high)
    return element
