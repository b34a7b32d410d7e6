"""Initial schema: feeds, entries (+ full-text index), topics, matches, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False, server_default="http"),
        sa.Column("title", sa.Text),
        sa.Column("site_url", sa.String(2048)),
        sa.Column("etag", sa.String(512)),
        sa.Column("last_modified", sa.String(128)),
        sa.Column("body_hash", sa.String(64)),
        sa.Column("interval_seconds", sa.Integer),
        sa.Column("next_check_at", UTCDateTime),
        sa.Column("last_checked_at", UTCDateTime),
        sa.Column("last_success_at", UTCDateTime),
        sa.Column("last_status", sa.String(32)),
        sa.Column("last_error", sa.Text),
        sa.Column("error_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("entries_per_day", sa.Float),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_feeds_due", "feeds", ["kind", "next_check_at"])

    op.create_table(
        "entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="SET NULL")),
        sa.Column("identity", sa.String(64), nullable=False, unique=True),
        sa.Column("guid", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("author", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("language", sa.String(35)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime),
    )
    op.create_index("ix_entries_published", "entries", ["published_at", "id"])
    op.create_index("ix_entries_feed", "entries", ["feed_id"])

    op.create_table(
        "topics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("exclude", sa.Text),
        sa.Column("aliases", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("topic_id", sa.Integer, sa.ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("matched_terms", sa.JSON, nullable=False),
        sa.Column("matched_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("topic_id", "entry_id", name="uq_matches_topic_entry"),
    )
    op.create_index("ix_matches_entry", "matches", ["entry_id"])

    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )

    if op.get_bind().dialect.name == "sqlite":
        # External-content FTS5 index, kept in sync by service/store/entries.py in bulk (per-row
        # triggers made inserts ~8x slower, PITFALLS.md).
        op.execute(
            "CREATE VIRTUAL TABLE entries_fts USING fts5("
            "title, summary, content='entries', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
    else:
        # Punctuation is folded to spaces first so both engines split words the same way as
        # FTS5's unicode61 ("covid-19" -> covid, 19; PostgreSQL's parser alone would make "-19").
        op.execute(
            "ALTER TABLE entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', regexp_replace(coalesce(title, ''), '[^[:alnum:]]+', ' ', 'g')), 'A') || "
            "setweight(to_tsvector('simple', regexp_replace(coalesce(summary, ''), '[^[:alnum:]]+', ' ', 'g')), 'B')"
            ") STORED"
        )
        op.execute("CREATE INDEX ix_entries_search ON entries USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS entries_fts")
    op.drop_table("meta")
    op.drop_table("matches")
    op.drop_table("topics")
    op.drop_table("entries")
    op.drop_table("feeds")
