"""The exports table: one row per file handed to the back office, with the cases it carried.

Chained in the audit history (pipeline.history.CHAINED): the row's full content is recorded with
its audit row, so an export cannot be altered or removed afterwards without the chain saying so.
Append a new step to MIGRATIONS to change the schema; never edit a released step.
"""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE exports (
        id VARCHAR PRIMARY KEY,          -- e.g. pcn-20261203-9f2c41d0; printed in the file's name and the history
        kind VARCHAR NOT NULL,           -- pcn | keeper_enquiry
        created_by VARCHAR NOT NULL,     -- the officer (CLI: the one the OS user is mapped to)
        created_at TIMESTAMPTZ NOT NULL,
        file_name VARCHAR NOT NULL,
        format VARCHAR NOT NULL,         -- csv | json
        sha256 VARCHAR NOT NULL,         -- of the file as written
        cases VARCHAR[] NOT NULL,        -- contravention ids, in the file's order
        again VARCHAR[] NOT NULL         -- the ids named to be exported again (--again)
    );
    """,
]
