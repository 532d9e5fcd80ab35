"""Alembic migrations of the desk's schema (see ``store.db.migrate``)."""
