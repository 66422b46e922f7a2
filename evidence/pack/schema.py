"""The packs table: one row per evidence pack exported, with the hashes an adjudicator's copy is checked against.

Append a new step to MIGRATIONS to change the schema; never edit a released step.
No foreign key to contraventions, for the reason given in evidence/schema.py.
"""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE packs (
        id VARCHAR PRIMARY KEY,            -- written in the pack's manifest.json, so `verify --db` finds the row
        contravention_id VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,       -- the officer (or CLI user) who exported it
        created_at TIMESTAMPTZ NOT NULL,
        file_name VARCHAR NOT NULL,        -- as written; a renamed copy is still found by its pack id
        zip_sha256 VARCHAR NOT NULL,
        zip_bytes BIGINT NOT NULL,
        manifest_sha256 VARCHAR NOT NULL,  -- of the pack's manifest.json: a forged manifest cannot match it
        evidence_manifest_sha256 VARCHAR NOT NULL  -- the evidence folder's manifest the pack was built from
    );
    CREATE INDEX packs_case ON packs (contravention_id);
    """,
]
