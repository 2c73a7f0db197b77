"""Keep procrastinate's fetch_job cheap when thousands of jobs wait.

`procrastinate_fetch_job_v2` rejects a candidate whose lock has an earlier todo job or a doing one
(a NOT EXISTS on `lock`). Procrastinate's only index with `lock` in it leads with `id`, so each
probe walked the whole index: with a backlog of 3,000 jobs and stale statistics, one fetch took
600 ms and the worker started a couple of jobs per second (measured in benchmarks/end_to_end.py).
An index that leads with `lock` makes every probe a lookup, whatever plan the statistics lead to.

The job table also swings from empty to thousands of rows within seconds, far faster than
autovacuum's default thresholds notice: lower them for this table so dead rows of finished jobs are
vacuumed and statistics refreshed early (the worker's sweep also analyzes it; delivery/tasks.py).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create index procrastinate_jobs_waiting_lock on procrastinate_jobs (lock, status, priority, id)"
               " where status in ('todo', 'doing') and lock is not null")
    op.execute("alter table procrastinate_jobs set (autovacuum_vacuum_scale_factor = 0,"
               " autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0,"
               " autovacuum_analyze_threshold = 500)")


def downgrade() -> None:
    op.execute("alter table procrastinate_jobs reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,"
               " autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)")
    op.execute("drop index procrastinate_jobs_waiting_lock")
