"""Review tables: officers' decisions, plate corrections and shift handover notes.

Decisions and corrections are append-only: a supervisor's reopen is a new row, never an edit, so
the full history of a case stays readable. Case views and exports go to the core audit_log.
Append a new step to MIGRATIONS to change the schema; never edit a released step.
"""

MIGRATIONS: list[str] = [
    """
    CREATE SEQUENCE review_decision_seq START 1;
    CREATE TABLE decisions (
        id BIGINT PRIMARY KEY DEFAULT nextval('review_decision_seq'),
        contravention_id VARCHAR NOT NULL,
        officer VARCHAR NOT NULL,
        "at" TIMESTAMPTZ NOT NULL,
        action VARCHAR NOT NULL,       -- validate | reject | reopen
        reason_code VARCHAR,           -- for reject: see pipeline.reasons.REASONS
        note VARCHAR
    );
    CREATE INDEX decisions_case ON decisions (contravention_id);
    CREATE SEQUENCE review_plate_correction_seq START 1;
    CREATE TABLE plate_corrections (
        id BIGINT PRIMARY KEY DEFAULT nextval('review_plate_correction_seq'),
        contravention_id VARCHAR NOT NULL,
        officer VARCHAR NOT NULL,
        "at" TIMESTAMPTZ NOT NULL,
        old VARCHAR,                   -- NULL when the reader had no plate
        new VARCHAR NOT NULL,
        format VARCHAR NOT NULL,       -- UK format of the new plate, or unknown
        whitelist_version INTEGER,     -- the list it was re-checked against; NULL: none imported
        whitelist_result VARCHAR NOT NULL  -- e.g. 'not whitelisted', 'whitelisted: ...', 'possible ...'
    );
    CREATE SEQUENCE review_handover_seq START 1;
    CREATE TABLE handover_notes (
        id BIGINT PRIMARY KEY DEFAULT nextval('review_handover_seq'),
        officer VARCHAR NOT NULL,
        "at" TIMESTAMPTZ NOT NULL,
        note VARCHAR NOT NULL
    );
    """,
    # Sign-in sessions (a signed token in the URL names a row; sign-out revokes it) and the sign-in
    # throttle per name and per client, kept here so that a restart neither revives nor forgets them.
    """
    CREATE TABLE review_sessions (
        id VARCHAR PRIMARY KEY,
        officer VARCHAR NOT NULL,
        client VARCHAR NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        ended_at TIMESTAMPTZ           -- set by sign-out: the token is refused from then on
    );
    CREATE TABLE sign_in_throttle (
        kind VARCHAR NOT NULL,         -- name | client
        key VARCHAR NOT NULL,
        failures INTEGER NOT NULL,     -- consecutive failures, each within LOCK of the one before
        last_failure TIMESTAMPTZ,
        locked_until TIMESTAMPTZ,
        PRIMARY KEY (kind, key)
    );
    """,
]
