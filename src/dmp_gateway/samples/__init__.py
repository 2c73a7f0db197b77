"""Sample payloads and a demo PDF: the seed's JSON (verbatim, placeholders kept) and our own examples."""

from __future__ import annotations

from importlib.resources import files

_HERE = files(__package__)


def sample_bytes(name: str) -> bytes:
    return _HERE.joinpath(name).read_bytes()


def seed_bytes(name: str, replacements: dict[str, str]) -> bytes:
    """A seed payload with its placeholders replaced, otherwise byte for byte as in the seed guide."""
    text = _HERE.joinpath("seed", name).read_text()
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    return text.encode()
