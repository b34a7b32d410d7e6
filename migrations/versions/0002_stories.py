"""Stories: every entry belongs to one story (a development reported by one or more outlets).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Existing entries get their stories from the online clusterer on the next `followup run`/`poll`/`ingest`
(service/feeds/refresh.py assigns entries whose story_id is NULL, oldest first), so the upgrade itself
stays a fast, pure schema change on both SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("headline", sa.Text, nullable=False, server_default=""),
        sa.Column("headline_entry_id", sa.Integer),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("entry_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("source_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_stories_last_seen", "stories", ["last_seen"])
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_entries_story", "stories", ["story_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_entries_story", ["story_id"])


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.drop_index("ix_entries_story")
        batch.drop_constraint("fk_entries_story", type_="foreignkey")
        batch.drop_column("story_id")
    op.drop_index("ix_stories_last_seen", "stories")
    op.drop_table("stories")
