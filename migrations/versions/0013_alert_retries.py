"""An alert's targets that failed are tried again (issue 13 follow-up): an Apprise URL with several
targets (an email to two addresses, a bot to two chats) that reached some of them counts as sent, and the
ones that failed are kept on its log row (`retry_targets`, their positions in the URL) with a backoff
(`retries`, `retry_at`), so they get the development later without the others getting it twice. Existing
rows have nothing to retry.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_log") as batch:
        batch.add_column(sa.Column("retry_targets", sa.Text, nullable=True))
        batch.add_column(sa.Column("retries", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_at", UTCDateTime, nullable=True))
    op.create_index("ix_alert_log_retry_at", "alert_log", ["alert_id", "retry_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_log_retry_at", table_name="alert_log")
    with op.batch_alter_table("alert_log") as batch:
        batch.drop_column("retry_at")
        batch.drop_column("retries")
        batch.drop_column("retry_targets")
