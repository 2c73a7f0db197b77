"""Serialize a person's jobs by INS, not by Patient resource.

The seed flow creates a Patient per document, so a lock on the Patient resource id left two documents
for the same person running side by side: a replacement could reach the DMP before the document it
replaces (and fail with "deliver it first"). Each delivery now keeps the procrastinate lock its jobs
take, computed once when the request is stored (`ins:<workspace>:<INS>`, or the Patient's id when it
carries no usable INS); rows written before this revision have none and keep the Patient lock.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table delivery add column job_lock text")


def downgrade() -> None:
    op.execute("alter table delivery drop column job_lock")
