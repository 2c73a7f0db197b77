"""Keep a CDA as its two ends around the stored PDF instead of a second, base64, copy of it.

A structuration-minimale CDA is a few kilobytes of header, the PDF in base64, and a short tail.
Storing it whole kept every document 2.3 times (PDF + 1.33x in the CDA) and wrote as much again to
the WAL; now the delivery keeps the head and tail and a reference to the Binary's blob, and the CDA
is rebuilt byte for byte (checked against its SHA-1 and size) when a retry or an operator needs it.
A CDA whose PDF was converted to PDF/A is still stored whole (`cda_blob_id`), as are older rows.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table delivery add column cda_head bytea, add column cda_tail bytea,"
               " add column cda_pdf_blob_id uuid references binary_blob (blob_id)")


def downgrade() -> None:
    op.execute("alter table delivery drop column cda_head, drop column cda_tail, drop column cda_pdf_blob_id")
