"""Alembic migrations; `rls_v1` holds DDL helpers frozen at the version migrations ran."""
