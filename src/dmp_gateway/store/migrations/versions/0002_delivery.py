"""Deliveries, their timeline, and the procrastinate job queue (same database, same transactions).

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # procrastinate's own schema, applied as its SchemaManager does (no bind parameters in it).
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
    op.execute(
        """
        create table delivery (
            request_id text primary key,
            workspace_id text not null,
            patient_id text not null,
            document_reference_id text not null,
            state text not null,
            immediate boolean not null,
            attempts integer not null default 0,
            -- XDS uniqueId = CDA id: minted once, kept for every retry and every operator restart
            unique_id text,
            -- the CDA as submitted, fixed before the first submission (binary_blob chunks)
            cda_blob_id uuid references binary_blob (blob_id),
            cda_sha1 text,
            cda_size bigint,
            ins_value text,
            ins_oid text,
            replaces_unique_id text,
            pdf_note text,
            reason text,
            reason_text text,
            next_attempt_at timestamptz,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now()
        );
        create index delivery_by_state on delivery (workspace_id, state, updated_at desc);
        create index delivery_recent on delivery (updated_at desc);

        create table delivery_event (
            id bigserial primary key,
            request_id text not null references delivery (request_id),
            at timestamptz not null default now(),
            step text not null,
            outcome text not null,
            details jsonb not null default '{}'
        );
        create index delivery_event_by_request on delivery_event (request_id, id);
        """
    )


def downgrade() -> None:
    op.execute("drop table delivery_event, delivery")
