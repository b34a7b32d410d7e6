"""A topic's developments (issue 13): each match records the development it belongs to on its topic,
named by the entry id of the development's first entry (service/stories/develop.py). Existing matches get
theirs on the next poll or ingest (Pipeline.assign_developments), in publication order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("development_id", sa.Integer, nullable=True))
    op.create_index("ix_matches_topic_development", "matches", ["topic_id", "development_id"])


def downgrade() -> None:
    op.drop_index("ix_matches_topic_development", table_name="matches")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("development_id")
