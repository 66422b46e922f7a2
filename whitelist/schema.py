"""Whitelist tables (filled in by the whitelist work)."""

MIGRATIONS: list[str] = []
