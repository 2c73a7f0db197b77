"""Absolute URLs as the client sees them, behind a reverse proxy too (X-Forwarded-Proto/Host/Prefix)."""

from __future__ import annotations

from starlette.requests import Request


def fhir_base(request: Request) -> str:
    """Absolute base URL of the FHIR API, e.g. https://gw.example.org/fhir/v2."""
    # From the scope: `request.url` parses a whole URL object for it (visible in py-spy profiles of creates).
    scheme = request.scope.get("scheme", "http")
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    prefix = ""
    if getattr(request.app.state, "trust_forwarded", True):
        scheme = _first(request.headers.get("x-forwarded-proto")) or scheme
        host = _first(request.headers.get("x-forwarded-host")) or host
        prefix = (_first(request.headers.get("x-forwarded-prefix")) or "").rstrip("/")
    return f"{scheme}://{host}{prefix}/fhir/v2"


def _first(value: str | None) -> str | None:
    """Proxies append to these headers; the first value is the client-facing one."""
    if not value:
        return None
    return value.split(",", 1)[0].strip() or None
