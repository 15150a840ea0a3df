"""The one SQLAlchemy `MetaData` of the platform database.

Every table registers here: the API's ORM models (`api.db.models.Base`) and the
tables that processes other than the API read, such as `tenant_secrets`
(`foundation.secrets.db`), so Alembic compares and migrates one schema.
"""

from __future__ import annotations

import sqlalchemy as sa

platform_metadata = sa.MetaData()
