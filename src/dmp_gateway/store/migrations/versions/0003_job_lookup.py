"""Find a delivery's pending job by request id (the orphan sweep runs this every few seconds).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create index procrastinate_jobs_delivery_request on procrastinate_jobs ((args->>'request_id'))"
               " where task_name = 'dmp_gateway.deliver'")


def downgrade() -> None:
    op.execute("drop index procrastinate_jobs_delivery_request")
