"""Persistence: SQLAlchemy 2 async models, one repository, Alembic migrations.

The same code runs on SQLite (embedded default) and PostgreSQL (production).
"""
