"""Topics that match by meaning (issue 14): a topic carries example items and says how its boolean query
and the similarity to its description and examples combine (`meaning`: off | guard | boost | only), with
its own similarity threshold or the default (service/topics/semantic.py). Existing topics keep matching
by their query alone ("off") until edited.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("examples", sa.JSON, nullable=True))
        batch.add_column(sa.Column("meaning", sa.String(8), nullable=False, server_default="off"))
        batch.add_column(sa.Column("similarity", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("similarity")
        batch.drop_column("meaning")
        batch.drop_column("examples")
