"""Matches carry their entry's publication time, indexed per topic, so a topic's newest matches (and any
keyset page of them) are read straight from an index instead of joining and sorting the entries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("matches", sa.Column("published_at", UTCDateTime, nullable=True))
    # An entry's publication time never changes after it is stored (updates touch title and summary only).
    op.execute("UPDATE matches SET published_at = (SELECT entries.published_at FROM entries "
               "WHERE entries.id = matches.entry_id)")
    op.create_index("ix_matches_topic_published", "matches", ["topic_id", "published_at", "id"])
    op.create_index("ix_matches_published", "matches", ["published_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_matches_published", table_name="matches")
    op.drop_index("ix_matches_topic_published", table_name="matches")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("published_at")
