"""Store binary chunks uncompressed.

PDFs are compressed already and a CDA is mostly base64 of that PDF, so pglz gained little space
while costing PostgreSQL several milliseconds of CPU per document (the end-to-end benchmark's
largest PostgreSQL cost). The server has no lz4.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table binary_chunk alter column data set storage external")


def downgrade() -> None:
    op.execute("alter table binary_chunk alter column data set storage extended")
