"""One article, one entry (issue 13, part): entries are looked up by their canonical URL (an index), and
the other feeds an entry was seen in, besides its first (entries.feed_id), are kept in entry_sources.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_sources",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_entry_sources_feed", "entry_sources", ["feed_id"])
    op.create_index("ix_entries_url", "entries", ["url"])


def downgrade() -> None:
    op.drop_index("ix_entries_url", table_name="entries")
    op.drop_index("ix_entry_sources_feed", table_name="entry_sources")
    op.drop_table("entry_sources")
