"""The database: SQLAlchemy 2 models, engine/session factory, Alembic migrations."""
