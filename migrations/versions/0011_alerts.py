"""Instant alerts, read state and the digest archive (issue 15): `development_reads` (a development the
reader marked read on a topic), `alerts` (an Apprise URL, a topic or all, a trigger:
a new development or one that reaches N outlets) and `alert_log` (each development pushed once per alert,
written before the push); subscriptions.skip_empty (send nothing on a day with nothing new) and
digest_runs.body_html (the digest as sent, for the archive page).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("skip_empty", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("digest_runs") as batch:
        batch.add_column(sa.Column("body_html", sa.Text, nullable=True))
    op.create_table(
        "development_reads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("topic_id", sa.Integer, sa.ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("development_id", sa.Integer, nullable=False),
        sa.Column("read_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("topic_id", "development_id", name="uq_development_reads"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("topic_id", sa.Integer, sa.ForeignKey("topics.id", ondelete="CASCADE"), nullable=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("min_outlets", sa.Integer, nullable=True),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("active_since", UTCDateTime, nullable=False),
        sa.Column("last_sent_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_table(
        "alert_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("topic_id", sa.Integer, sa.ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("development_id", sa.Integer, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("alert_id", "development_id", name="uq_alert_log_development"),
    )


def downgrade() -> None:
    op.drop_table("alert_log")
    op.drop_table("alerts")
    op.drop_table("development_reads")
    with op.batch_alter_table("digest_runs") as batch:
        batch.drop_column("body_html")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("skip_empty")
