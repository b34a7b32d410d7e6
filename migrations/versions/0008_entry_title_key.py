"""Syndicated copies are one entry (issue 13): entries carry a hash of their publisher and headline
(service/feeds/normalize.py: title_key), indexed, so a copy of an article under another URL from the same
publisher is found. Existing entries get theirs here, in batches.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from service.feeds.normalize import title_key

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("title_key", sa.String(32), nullable=True))
    entries = sa.table("entries", sa.column("id", sa.Integer), sa.column("url", sa.Text), sa.column("title", sa.Text),
                       sa.column("title_key", sa.String(32)))
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(entries.c.id, entries.c.url, entries.c.title).where(entries.c.id > last)
                            .order_by(entries.c.id).limit(BATCH)).all()
        if not rows:
            break
        values = [dict(b_id=r.id, b_key=title_key(r.url, r.title or "")) for r in rows]
        values = [v for v in values if v["b_key"]]
        if values:
            conn.execute(entries.update().where(entries.c.id == sa.bindparam("b_id"))
                         .values(title_key=sa.bindparam("b_key")), values)
        last = rows[-1].id
    op.create_index("ix_entries_title_key", "entries", ["title_key"])


def downgrade() -> None:
    op.drop_index("ix_entries_title_key", table_name="entries")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("title_key")
