"""Document identifiers: OIDs minted under the gateway's root (ClinicalDocument/id, setId).

IHE caps a uniqueId at 64 characters (ITI TF-3 §4.2.3.2.26); an OID arc never starts with 0 unless it
is 0. The uniqueId is minted once per CommunicationRequest and stored by the caller, so a retry sends the
same id and a lost success comes back as XDSDuplicateUniqueIdInRegistry (cda-structuration-minimale.md §7).
"""

from __future__ import annotations

import re
import secrets

MAX_OID_LENGTH = 64
#: Fewer random digits than this (about 60 bits) would make collisions plausible: refuse such a root.
_MIN_RANDOM_DIGITS = 18
#: 38 digits hold about 126 bits, as much entropy as a UUID.
_MAX_RANDOM_DIGITS = 38
_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")


def is_oid(value: object, *, max_length: int = MAX_OID_LENGTH) -> bool:
    """True for a dotted-decimal OID of at most `max_length` characters."""
    return isinstance(value, str) and len(value) <= max_length and bool(_OID.match(value))


def mint_document_oid(root_oid: str) -> str:
    """A new, unique OID ``<root>.<random integer>`` of at most 64 characters.

    The random arc has up to 38 digits (a UUID's worth of entropy), fewer when the root is long; a root
    leaving room for fewer than 18 digits is refused. Call it once per document and store the result.
    """
    if not is_oid(root_oid):
        raise ValueError(f"document root OID {root_oid!r} is not a dotted-decimal OID of at most 64 characters")
    digits = min(_MAX_RANDOM_DIGITS, MAX_OID_LENGTH - len(root_oid) - 1)
    if digits < _MIN_RANDOM_DIGITS:
        raise ValueError(f"document root OID {root_oid!r} is too long: it leaves room for {digits} random "
                         f"digits, at least {_MIN_RANDOM_DIGITS} are needed within 64 characters")
    low = 10 ** (digits - 1)
    return f"{root_oid}.{low + secrets.randbelow(9 * low)}"
