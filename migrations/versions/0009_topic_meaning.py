"""Topics that match by meaning (issue 14): a topic carries example items and says how its boolean query
and the similarity to its description and examples combine (`meaning`: off | guard | boost | only), with
its own similarity threshold or the default (service/topics/semantic.py). Existing topics keep matching
by their query alone ("off") until edited. `topic_labels`: a reader's relevant / not relevant per topic
and entry (feedback, used by `followup topics learn`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from service.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("examples", sa.JSON, nullable=True))
        batch.add_column(sa.Column("meaning", sa.String(8), nullable=False, server_default="off"))
        batch.add_column(sa.Column("similarity", sa.Float, nullable=True))
    op.create_table(
        "topic_labels",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("topic_id", sa.Integer, sa.ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("entries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("relevant", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("topic_id", "entry_id", name="uq_topic_labels_topic_entry"),
    )


def downgrade() -> None:
    op.drop_table("topic_labels")
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("similarity")
        batch.drop_column("meaning")
        batch.drop_column("examples")
