"""Store errors. The FHIR layer turns each into its HTTP status in one place (fhir/outcomes.py).

StoreError
  ResourceNotFound   no current version of that type/id in the caller's workspace (404)
  ResourceGone       the resource existed but was deleted (410)
  VersionConflict    If-Match names another version than the current one (STU3: 409)
  MultipleMatches    a conditional create matched more than one resource (412)
  BlobTooLarge       a binary went over the configured limit while streaming (413)
"""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class ResourceNotFound(StoreError):
    """No such resource."""


class ResourceGone(StoreError):
    """The resource was deleted."""


class VersionConflict(StoreError):
    """The version given in If-Match is not the current version."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"If-Match asks for version {expected} but the current version is {current}")
        self.expected, self.current = expected, current


class MultipleMatches(StoreError):
    """The conditional create criteria match more than one resource."""

    def __init__(self, count: int) -> None:
        super().__init__(f"If-None-Exist matches {count} resources; it must match at most one")
        self.count = count


class StoredDocumentDamaged(StoreError):
    """A stored CDA can no longer be rebuilt byte for byte (its SHA-1 or size differs): never send it."""


class BlobTooLarge(StoreError):
    """The binary is larger than the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the binary is larger than the limit of {limit} bytes")
        self.limit = limit
