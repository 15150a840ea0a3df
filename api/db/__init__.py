"""Platform persistence: SQLAlchemy models, engine/session factory, Alembic migrations."""
