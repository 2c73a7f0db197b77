"""The search parameters the API supports (STU3 search.html), as one table per resource type.

Each parameter knows how to index a resource (rows of `fhir_search`) and how to turn a query value
into store criteria. Token rows are `s:<system>|<code>` and `v:<code>`; strings are stored folded
(lower case, no accents) for prefix search plus `exact:` rows; references as `Type/id` and `id`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dmp_gateway.fhir.outcomes import bad_request
from dmp_gateway.fhir.references import parse_reference
from dmp_gateway.store.resources import Criterion

Extractor = Callable[[dict], Iterable[object]]


def fold(text: str) -> str:
    """Case- and accent-insensitive form used by FHIR string search."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class SearchParam:
    name: str
    #: token | string | date | reference
    kind: str
    extract: Extractor
    #: For references: the types a bare id refers to.
    targets: tuple[str, ...] = ()
    description: str = ""
    #: Overrides the parser of `kind` (parameters on the resource row, not on index rows: `_id`, ...).
    parse: Callable[["SearchParam", str | None, list[str]], Criterion] | None = None

    def index(self, resource: dict) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for item in self.extract(resource):
            rows += [(self.name, v) for v in _INDEXERS[self.kind](item)]
        return rows

    def criterion(self, modifier: str | None, raw: str) -> Criterion:
        values = [v for v in raw.split(",") if v != ""]
        if not values:
            raise bad_request(f"search parameter {self.name} has an empty value", self.name)
        return (self.parse or _PARSERS[self.kind])(self, modifier, values)


# --- indexing --------------------------------------------------------------------------------------

def _index_token(item: object) -> list[str]:
    if isinstance(item, str):
        return [f"v:{item}"]
    if isinstance(item, dict):
        code = item.get("value", item.get("code"))
        if code is None:
            return []
        system = item.get("system") or ""
        return [f"s:{system}|{code}", f"v:{code}"]
    return []


def _index_string(item: object) -> list[str]:
    return [fold(item), f"exact:{item}"] if isinstance(item, str) and item else []


def _index_date(item: object) -> list[str]:
    return [item[:10]] if isinstance(item, str) and item else []


def _index_reference(item: object) -> list[str]:
    ref = parse_reference(item.get("reference") if isinstance(item, dict) else item)
    return [str(ref), ref.id] if ref else []


_INDEXERS = {"token": _index_token, "string": _index_string, "date": _index_date, "reference": _index_reference}


# --- query parsing ---------------------------------------------------------------------------------

def _parse_token(p: SearchParam, modifier: str | None, values: list[str]) -> Criterion:
    if modifier not in (None, ""):
        raise bad_request(f"modifier :{modifier} is not supported on {p.name}", p.name)
    keys, prefixes = [], []
    for v in values:
        if "|" not in v:
            keys.append(f"v:{v}")
        elif v.endswith("|"):
            prefixes.append(f"s:{v}")
        else:
            keys.append(f"s:{v}")
    if prefixes and keys:
        raise bad_request(f"{p.name}: mixing 'system|' with codes in one value list is not supported", p.name)
    return Criterion(p.name, "prefix", tuple(prefixes)) if prefixes else Criterion(p.name, "eq", tuple(keys))


def _parse_string(p: SearchParam, modifier: str | None, values: list[str]) -> Criterion:
    if modifier == "exact":
        return Criterion(p.name, "eq", tuple(f"exact:{v}" for v in values))
    if modifier not in (None, ""):
        raise bad_request(f"modifier :{modifier} is not supported on {p.name} (use :exact or none)", p.name)
    return Criterion(p.name, "prefix", tuple(fold(v) for v in values))


_DATE = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4}(?:-\d{2}(?:-\d{2})?)?)$")


def _parse_date(p: SearchParam, modifier: str | None, values: list[str]) -> Criterion:
    if modifier not in (None, "") or len(values) != 1:
        raise bad_request(f"{p.name} takes one date like 1979-03-28, optionally prefixed by ge/le/gt/lt", p.name)
    match = _DATE.match(values[0])
    if not match:
        raise bad_request(f"{p.name}={values[0]} is not a date (YYYY, YYYY-MM or YYYY-MM-DD, prefix "
                          "eq/gt/lt/ge/le allowed)", p.name)
    prefix, date = match.group(1) or "eq", match.group(2)
    if prefix == "eq":
        return Criterion(p.name, "prefix", (date,))
    # Dates are stored as YYYY-MM-DD in byte order: '~' sorts after every digit and '-'.
    bounds = {"ge": ("ge", date), "sa": ("gt", date + "~"), "gt": ("gt", date + "~"),
              "lt": ("lt", date), "eb": ("lt", date), "le": ("le", date + "~")}
    if prefix not in bounds:
        raise bad_request(f"date prefix {prefix} is not supported on {p.name}", p.name)
    op, bound = bounds[prefix]
    return Criterion(p.name, op, (bound,))


def _parse_reference(p: SearchParam, modifier: str | None, values: list[str]) -> Criterion:
    keys = []
    for v in values:
        ref = parse_reference(v)
        if ref is not None:
            if p.targets and ref.res_type not in p.targets:
                raise bad_request(f"{p.name} refers to {' or '.join(p.targets)}, not {ref.res_type}", p.name)
            keys.append(str(ref))
        elif modifier in p.targets:
            keys.append(f"{modifier}/{v}")
        elif re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", v):
            keys.append(f"{p.targets[0]}/{v}" if len(p.targets) == 1 else v)
        else:
            raise bad_request(f"{p.name}={v} is not a reference (Type/id or id)", p.name)
    return Criterion(p.name, "eq", tuple(keys))


_PARSERS = {"token": _parse_token, "string": _parse_string, "date": _parse_date, "reference": _parse_reference}


# --- parameters of every resource, answered from the resource row itself (store/resources.py) ------

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_INSTANT = re.compile(
    r"^(eq|gt|lt|ge|le|sa|eb)?(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _parse_id(p: SearchParam, modifier: str | None, values: list[str]) -> Criterion:
    if modifier not in (None, ""):
        raise bad_request(f"modifier :{modifier} is not supported on {p.name}", p.name)
    for v in values:
        if not _ID.fullmatch(v):
            raise bad_request(f"{p.name}={v} is not a resource id ([A-Za-z0-9-.], 1 to 64 characters)", p.name)
    return Criterion(p.name, "eq", tuple(values))


def _parse_instant(p: SearchParam, modifier: str | None, values: list[str]) -> Criterion:
    """A date or instant as the range it denotes (a day, a second...), compared per the prefix.

    Without a time zone, times are taken as UTC. Bounds go to the store as ISO instants.
    """
    if modifier not in (None, "") or len(values) != 1:
        raise bad_request(f"{p.name} takes one date or instant like 2026-11-25T10:00:00Z, optionally prefixed "
                          "by gt/ge/lt/le", p.name)
    match = _INSTANT.match(values[0])
    if not match:
        raise bad_request(f"{p.name}={values[0]} is not a date or instant (YYYY[-MM[-DD[Thh:mm[:ss[.fff]][Z|+hh:mm]]]])",
                          p.name)
    prefix, year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        start = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                         int(second or 0), int(((fraction or ".0")[1:] + "00000")[:6]), tzinfo=_zone(zone))
        end = _end_of(start, fraction, second, minute, day, month)
    except (ValueError, OverflowError) as exc:
        raise bad_request(f"{p.name}={values[0]} is not a valid date: {exc}", p.name) from None
    bounds = {"eq": ("within", (start, end)), "ge": ("ge", (start,)), "gt": ("ge", (end,)), "sa": ("ge", (end,)),
              "lt": ("lt", (start,)), "eb": ("lt", (start,)), "le": ("lt", (end,))}
    op, instants = bounds[prefix or "eq"]
    return Criterion(p.name, op, tuple(i.isoformat() for i in instants))


def _end_of(start: datetime, fraction: str | None, second: str | None, minute: str | None, day: str | None,
            month: str | None) -> datetime:
    """The end (excluded) of the range a value written with this precision denotes."""
    if fraction:
        return start + timedelta(microseconds=10 ** (6 - len(fraction[1:])))
    if second:
        return start + timedelta(seconds=1)
    if minute:
        return start + timedelta(minutes=1)
    if day:
        return start + timedelta(days=1)
    if month:
        return start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return start.replace(year=start.year + 1)


def _zone(text: str | None) -> timezone:
    if text in (None, "Z"):
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError(f"time zone {text} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _none(resource: dict) -> Iterable[object]:
    return ()


#: Common to every searchable type (STU3 search.html §2.1.1.1): answered from the resource row itself.
_COMMON = (
    SearchParam("_id", "token", _none, parse=_parse_id, description="logical id(s), comma-separated"),
    SearchParam("_lastUpdated", "date", _none, parse=_parse_instant,
                description="when the current version was written (eq, gt, ge, lt, le; date or instant, UTC by default)"),
)


# --- the table -------------------------------------------------------------------------------------

def _each(*path: str) -> Extractor:
    def extract(resource: dict) -> Iterable[object]:
        items: list[object] = [resource]
        for step in path:
            nxt: list[object] = []
            for item in items:
                value = item.get(step) if isinstance(item, dict) else None
                if isinstance(value, list):
                    nxt += value
                elif value is not None:
                    nxt.append(value)
            items = nxt
        return items
    return extract


def _identifier(name: str = "identifier") -> SearchParam:
    return SearchParam(name, "token", _each("identifier"), description="system|value or value")


SEARCH_PARAMS: dict[str, dict[str, SearchParam]] = {
    "Patient": {p.name: p for p in (
        _identifier(),
        SearchParam("family", "string", _each("name", "family"), description="family name prefix"),
        SearchParam("given", "string", _each("name", "given"), description="given name prefix"),
        SearchParam("birthdate", "date", _each("birthDate"), description="birth date (eq, ge, le, gt, lt)"),
    )},
    "DocumentReference": {p.name: p for p in (
        SearchParam("subject", "reference", _each("subject"), ("Patient",)),
        SearchParam("patient", "reference", _each("subject"), ("Patient",)),
        SearchParam("type", "token", _each("type", "coding"), description="LOINC document type"),
        _identifier(),
    )},
    "CommunicationRequest": {p.name: p for p in (
        SearchParam("subject", "reference", _each("subject"), ("Patient",)),
        SearchParam("status", "token", _each("status")),
    )},
    "Communication": {p.name: p for p in (
        SearchParam("based-on", "reference", _each("basedOn"), ("CommunicationRequest",)),
        SearchParam("status", "token", _each("status")),
        SearchParam("subject", "reference", _each("subject"), ("Patient",)),
    )},
    "Practitioner": {"identifier": _identifier()},
    "Organization": {"identifier": _identifier()},
    "Device": {"identifier": _identifier()},
    "Binary": {},
}
for _type, _params in SEARCH_PARAMS.items():
    if _type != "Binary":  # Binary has create and read only
        _params.update({p.name: p for p in _COMMON})


def index_rows(resource_type: str, resource: dict) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for param in SEARCH_PARAMS.get(resource_type, {}).values():
        rows += param.index(resource)
    return rows
