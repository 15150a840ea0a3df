"""login redirect: a pending login remembers the callback URL it sent the provider, so a
Studio login (landing on the Studio's page) redeems its code with the same URL

Revision ID: 0007_login_redirect
Revises: 0006_schedules
Create Date: 2026-12-02 04:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_login_redirect"
down_revision: str | None = "0006_schedules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("login_states", sa.Column("redirect_uri", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_states") as batch:
        batch.drop_column("redirect_uri")
