"""Whitelist tables, and the whitelist columns on the core passage and contravention tables.

Append a new step to MIGRATIONS to change the schema; never edit a released step.
"""

from collections.abc import Callable

import duckdb

from pipeline.history import store_digest

# Written on lane_passages by the batch and on contraventions by the batch and by `recheck`, so
# each decision records which list it was made against and what it found.
DECISION_COLUMNS = [
    "whitelist_version INTEGER",     # whitelist_versions.id used; NULL when no list was imported
    "whitelist_entry VARCHAR",       # the exempting entry, e.g. 'BX12BUS (bus, Northway Buses)'
    "whitelist_near_miss VARCHAR",   # 'possible whitelisted vehicle: ...' shown to the officer
]


def record_entry_digests(con: duckdb.DuckDBPyConnection) -> None:
    """Each existing version's digest of its entries, as they stand (the history then records it)."""
    for (version,) in con.execute("SELECT id FROM whitelist_versions ORDER BY id").fetchall():
        store_digest(con, "whitelist_versions", version)


MIGRATIONS: list[str | Callable[[duckdb.DuckDBPyConnection], None]] = [
    """
    CREATE SEQUENCE whitelist_version_seq START 1;
    CREATE TABLE whitelist_versions (
        id INTEGER PRIMARY KEY DEFAULT nextval('whitelist_version_seq'),
        imported_by VARCHAR NOT NULL,
        imported_at TIMESTAMPTZ NOT NULL,
        file_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,       -- of the file's bytes as imported
        row_count INTEGER NOT NULL,    -- entries in the file
        entry_count INTEGER NOT NULL,  -- entries in this version (file + carried over when merging)
        mode VARCHAR NOT NULL,         -- replace | merge
        based_on INTEGER               -- the version merged into; NULL for replace
    );
    -- Each version holds its complete list, so matching only ever reads one version.
    CREATE TABLE whitelist_entries (
        version_id INTEGER NOT NULL REFERENCES whitelist_versions (id),
        plate VARCHAR NOT NULL,        -- normalised: A-Z and 0-9 only
        category VARCHAR NOT NULL,     -- bus | taxi | private_hire | emergency | council | utility | other
        operator VARCHAR,
        valid_from DATE NOT NULL,
        valid_to DATE,                 -- inclusive; NULL = open-ended
        source VARCHAR,
        notes VARCHAR,
        line INTEGER NOT NULL,         -- line in the file of version from_version
        from_version INTEGER NOT NULL, -- the version whose file supplied the row
        PRIMARY KEY (version_id, plate, valid_from)
    );
    CREATE SEQUENCE whitelist_gap_seq START 1;
    CREATE TABLE whitelist_gaps (
        id INTEGER PRIMARY KEY DEFAULT nextval('whitelist_gap_seq'),
        plate VARCHAR NOT NULL,
        category VARCHAR NOT NULL,
        note VARCHAR,
        contravention_id VARCHAR,
        flagged_by VARCHAR NOT NULL,
        flagged_at TIMESTAMPTZ NOT NULL,
        status VARCHAR NOT NULL DEFAULT 'open',   -- open | closed
        closed_by_version INTEGER,
        closed_at TIMESTAMPTZ
    );
    """
    + "".join(
        f"ALTER TABLE {table} ADD COLUMN {column};\n"
        for table in ("lane_passages", "contraventions")
        for column in DECISION_COLUMNS
    ),
    # The sha256 of the version's entries (pipeline.history.DIGESTS): an entry added by SQL shows.
    "ALTER TABLE whitelist_versions ADD COLUMN entries_sha256 VARCHAR",
    record_entry_digests,
]
