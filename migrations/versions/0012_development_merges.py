"""Developments merge (issue 13): when an entry joins a development and its mean headline vector comes
within MEANING_MERGE of another open development's, the two are one event split early, and the later
begun is folded into the other. `matches.placed_id` keeps the development each entry joined when placed
and `development_merges` the merges, so that placing later (or late-arriving older) entries again replays
the state exactly as the one pass in publication order had it (service/feeds/refresh.py develop_topics).
Existing matches were placed without merges: their placed development is the one they show.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("placed_id", sa.Integer, nullable=True))
    op.execute("UPDATE matches SET placed_id = development_id WHERE development_id IS NOT NULL")
    op.create_table(
        "development_merges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("topic_id", sa.Integer, sa.ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("absorbed_id", sa.Integer, nullable=False),
        sa.Column("into_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_development_merges_topic_key", "development_merges", ["topic_id", "published_at", "entry_id"])


def downgrade() -> None:
    op.drop_index("ix_development_merges_topic_key", table_name="development_merges")
    op.drop_table("development_merges")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("placed_id")
