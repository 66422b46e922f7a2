"""Evidence tables: one row per case folder and one per file with its sha256.

Append a new step to MIGRATIONS to change the schema; never edit a released step.
No foreign keys to contraventions: DuckDB refuses to update a referenced row whose indexed columns
change, and the review app updates contraventions.status (an indexed column).
"""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE evidence_cases (
        contravention_id VARCHAR PRIMARY KEY,
        folder VARCHAR NOT NULL,           -- relative to the evidence root: <camera>/<YYYY-MM-DD>/<id>
        manifest_sha256 VARCHAR NOT NULL,  -- of manifest.json
        files INTEGER NOT NULL,
        bytes BIGINT NOT NULL,
        segment_first_frame INTEGER NOT NULL,  -- frames of the source file in original.* and review.mp4
        segment_last_frame INTEGER NOT NULL,
        seconds_taken DOUBLE NOT NULL,     -- wall time to write the case, for the batch's report
        created_at TIMESTAMPTZ NOT NULL,
        created_by VARCHAR NOT NULL,
        deleted_at TIMESTAMPTZ,            -- set by retention; the rows and hashes are kept
        deleted_by VARCHAR,
        deletion_reason VARCHAR
    );
    CREATE TABLE evidence_files (
        contravention_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,             -- relative to the case folder
        sha256 VARCHAR NOT NULL,
        bytes BIGINT NOT NULL,
        kind VARCHAR NOT NULL,             -- original | review | overview | closeup | metadata | manifest | checksums
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (contravention_id, path)
    );
    """,
    """
    CREATE TABLE evidence_settings (
        key VARCHAR PRIMARY KEY,           -- evidence_root: the absolute root, recorded on first use
        value VARCHAR NOT NULL,
        set_at TIMESTAMPTZ NOT NULL,
        set_by VARCHAR NOT NULL
    );
    -- Appeal holds, one row per hold or release, never updated: the latest row says whether a case is held.
    CREATE SEQUENCE appeal_hold_seq;
    CREATE TABLE appeal_holds (
        id BIGINT PRIMARY KEY DEFAULT nextval('appeal_hold_seq'),
        contravention_id VARCHAR NOT NULL,
        action VARCHAR NOT NULL,           -- hold | release
        "at" TIMESTAMPTZ NOT NULL,
        actor VARCHAR NOT NULL,
        reason VARCHAR NOT NULL
    );
    CREATE INDEX appeal_holds_case ON appeal_holds (contravention_id);
    """,
]
