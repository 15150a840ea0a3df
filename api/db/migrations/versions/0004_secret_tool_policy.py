"""secret tool policy: which tools may resolve a tenant secret

Revision ID: 0004_secret_policy
Revises: 0003
Create Date: 2026-12-01 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_secret_policy"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_secrets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allowed_tools", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_secrets", schema=None) as batch_op:
        batch_op.drop_column("allowed_tools")
