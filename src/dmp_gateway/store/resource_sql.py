"""The statements `resources.py` sends: resource writes as composable CTEs, and search conditions.

Every write of a resource row goes through `create_ctes` or `replace_known_ctes`, alone (the constants
below) or several in one statement (`PostgresResourceStore.write_together`, a prefix each).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmp_gateway.store.resources import Criterion

#: The resource row and its index rows, the parts every write statement below shares.
_RESOURCE_INTO = "insert into fhir_resource (res_type, id, version, workspace_id, last_updated, is_current, blob_id, content)"
_SEARCH_INTO = "insert into fhir_search (res_type, id, workspace_id, param, value)"


def create_ctes(p: str = "") -> str:
    """A new resource row and its index rows: CTEs `{p}r` and `{p}indexed`, parameters `%({p}t)s` (type),
    `id`, `v` (version), `ws`, `at`, `blob`, `c` (content) and `index` (the index rows as JSON)."""
    return f"""{p}r as (
  {_RESOURCE_INTO}
  values (%({p}t)s, %({p}id)s, %({p}v)s, %({p}ws)s, %({p}at)s, true, %({p}blob)s, %({p}c)s::json)
  returning 1
), {p}indexed as (
  {_SEARCH_INTO}
  select %({p}t)s, %({p}id)s, %({p}ws)s, e->>0, e->>1 from json_array_elements(%({p}index)s::json) as e
)"""


def replace_known_ctes(p: str = "") -> str:
    """A new version when the current one is known: retire it (only if it still is current), insert the
    successor (`{p}r`, no row if the current version was another), and bring its index rows up to date.
    Parameters as `create_ctes`, with `prev` (the known version) instead of `blob`.

    Only the index rows that changed are written: a delivery's updates change one or two search values
    (a status, an identifier) of resources with up to a dozen, and every row written is a heap tuple and
    two index entries now, and dead ones for VACUUM later."""
    return f"""{p}retired as (
  update fhir_resource set is_current = false
  where res_type = %({p}t)s and id = %({p}id)s and is_current and workspace_id = %({p}ws)s and version = %({p}prev)s
  returning blob_id
), {p}wanted as (
  select e->>0 as param, (e->>1) collate "C" as value from json_array_elements(%({p}index)s::json) as e
), {p}gone as (
  delete from fhir_search s where s.res_type = %({p}t)s and s.id = %({p}id)s and exists (select 1 from {p}retired)
    and not exists (select 1 from {p}wanted w where w.param = s.param and w.value = s.value)
), {p}r as (
  {_RESOURCE_INTO}
  select %({p}t)s, %({p}id)s, %({p}v)s, %({p}ws)s, %({p}at)s, true, blob_id, %({p}c)s::json from {p}retired
  returning blob_id
), {p}indexed as (
  {_SEARCH_INTO}
  select distinct %({p}t)s, %({p}id)s, %({p}ws)s, w.param, w.value from {p}wanted w
  where exists (select 1 from {p}r) and not exists (
    select 1 from fhir_search s where s.res_type = %({p}t)s and s.id = %({p}id)s and s.param = w.param
    and s.value = w.value)
)"""


INSERT = f"with {create_ctes()}\nselect 1"

#: `INSERT` followed by a creation's `CreatedAlso` CTEs, as one statement.
INSERT_ALSO = f"with {create_ctes()}, {{ctes}}\nselect {{result}}"

#: The same for a new version: the old index rows go in the same statement (all parts of one
#: statement see the same snapshot, so the delete cannot touch the rows inserted beside it).
REINSERT = f"with gone as (delete from fhir_search where res_type = %(t)s and id = %(id)s), {create_ctes()}\nselect 1"


_OPS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
#: Search parameters answered from the resource row, not from `fhir_search`: column and cast.
_ROW_PARAMS = {"_id": ("id", ""), "_lastUpdated": ("last_updated", "::timestamptz")}


def search_where(res_type: str, workspace_id: str, criteria: Sequence[Criterion]) -> tuple[str, list]:
    """The WHERE of a search on `fhir_resource r` (current versions of a type in a workspace) and its arguments."""
    clauses = ["r.is_current", "r.res_type = %s", "r.workspace_id = %s"]
    args: list = [res_type, workspace_id]
    for c in criteria:
        if c.param in _ROW_PARAMS:
            column, cast = _ROW_PARAMS[c.param]
            if c.op == "eq":
                clauses.append(f"r.{column} = any(%s)")
                args.append(list(c.values))
            elif c.op == "within":
                clauses.append(f"r.{column} >= %s{cast} and r.{column} < %s{cast}")
                args += list(c.values)
            else:
                clauses.append(f"r.{column} {_OPS[c.op]} %s{cast}")
                args.append(c.values[0])
            continue
        sub = "select 1 from fhir_search s where s.workspace_id = r.workspace_id and s.res_type = r.res_type" \
              " and s.id = r.id and s.param = %s and "
        if c.op == "eq":
            clauses.append(f"exists ({sub}s.value = any(%s))")
            args += [c.param, list(c.values)]
        elif c.op == "prefix":
            alts = " or ".join(["s.value like %s"] * len(c.values))
            clauses.append(f"exists ({sub}({alts}))")
            args += [c.param, *(_like_prefix(v) for v in c.values)]
        elif c.op in _OPS:
            clauses.append(f"exists ({sub}s.value {_OPS[c.op]} %s)")
            args += [c.param, c.values[0]]
        else:  # pragma: no cover - fhir/search.py only builds the ops above
            raise ValueError(f"unknown search operator {c.op}")
    return " and ".join(clauses), args


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
