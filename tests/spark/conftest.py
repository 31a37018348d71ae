"""Spark tests use the session-scoped ``spark`` fixture defined in tests/conftest.py."""
