"""Versioned FHIR resources, their search index, binaries and workspaces.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table workspace (
            id text primary key,
            name text not null,
            dmp_device_id text not null,
            created_at timestamptz not null default now()
        );

        -- Every version of every resource; the current one has is_current. Keeping all versions
        -- lets a Communication and its CDA be traced to the exact DocumentReference version used.
        create table fhir_resource (
            res_type text not null,
            id text not null,
            version integer not null,
            workspace_id text not null,
            last_updated timestamptz not null,
            is_current boolean not null,
            blob_id uuid,
            content json not null,  -- the text we return, key order kept
            primary key (res_type, id, version)
        );
        create unique index fhir_resource_current on fhir_resource (res_type, id) where is_current;
        create index fhir_resource_listing on fhir_resource (workspace_id, res_type, last_updated desc)
            where is_current;

        -- Search index of the current versions: one row per (parameter, normalized value).
        create table fhir_search (
            res_type text not null,
            id text not null,
            workspace_id text not null,
            param text not null,
            -- byte order, so prefix LIKE and range comparisons of ISO dates use the index as is
            value text collate "C" not null
        );
        create index fhir_search_lookup on fhir_search (workspace_id, res_type, param, value);
        create index fhir_search_owner on fhir_search (res_type, id);

        -- Binary content, in 1 MiB chunks so neither upload nor download holds it whole in memory.
        create table binary_blob (
            blob_id uuid primary key,
            workspace_id text not null,
            content_type text not null,
            size bigint not null,
            sha256 text not null,
            created_at timestamptz not null default now()
        );
        create table binary_chunk (
            blob_id uuid not null references binary_blob (blob_id) on delete cascade,
            seq integer not null,
            data bytea not null,
            primary key (blob_id, seq)
        );
        """
    )


def downgrade() -> None:
    op.execute("drop table binary_chunk, binary_blob, fhir_search, fhir_resource, workspace")
