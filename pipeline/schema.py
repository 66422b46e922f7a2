"""Core tables: footage files, lane passages, contraventions and the audit log.

No foreign keys: DuckDB refuses to update a row that another table references (an update is a
delete and insert underneath), and plate reads, statuses and corrections update these rows.

Append a new step to MIGRATIONS to change the schema; never edit a released step.
"""

PLATE_COLUMNS = """
    plate VARCHAR,
    plate_confidence DOUBLE,
    plate_status VARCHAR,          -- read | low_confidence | unreadable
    plate_format VARCHAR,          -- current | prefix | suffix | dateless | northern_ireland | unknown
"""

MIGRATIONS = [
    """
    CREATE SEQUENCE audit_seq;
    CREATE TABLE audit_log (
        id BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
        "at" TIMESTAMPTZ NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        entity VARCHAR NOT NULL,
        entity_id VARCHAR,
        details JSON
    );
    CREATE TABLE footage_files (
        id VARCHAR PRIMARY KEY,        -- sha256 of the file's bytes
        path VARCHAR NOT NULL,
        camera_id VARCHAR NOT NULL,
        site_sha256 VARCHAR,
        start_time TIMESTAMPTZ,
        end_time TIMESTAMPTZ,
        timezone VARCHAR,
        frames INTEGER,
        fps DOUBLE,
        width INTEGER,
        height INTEGER,
        codec VARCHAR,
        status VARCHAR NOT NULL,       -- processed | failed
        error VARCHAR,
        processed_at TIMESTAMPTZ NOT NULL,
        seconds_taken DOUBLE
    );
    CREATE TABLE lane_passages (
        id VARCHAR PRIMARY KEY,
        footage_id VARCHAR NOT NULL,
        camera_id VARCHAR NOT NULL,
        track_id INTEGER NOT NULL,
        vehicle_class VARCHAR NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        first_frame INTEGER NOT NULL,
        last_frame INTEGER NOT NULL,
        frames_in_lane INTEGER NOT NULL,
        seconds_in_lane DOUBLE NOT NULL,
        distance_px DOUBLE NOT NULL,
        in_force VARCHAR,
        is_contravention BOOLEAN NOT NULL,
        reason VARCHAR NOT NULL,
        box DOUBLE[],
        -- the whole track, {"frames": [...], "xyxy": [[x1, y1, x2, y2], ...]}, so evidence can
        -- outline the vehicle in every frame without running the detector again
        track JSON,
    """ + PLATE_COLUMNS + """
        plate_char_confidence DOUBLE[],
        plate_reads INTEGER,
        plate_alternatives JSON,
        plate_frame INTEGER,
        plate_box DOUBLE[],
        plate_crop BLOB               -- PNG of the best read's plate crop
    );
    CREATE TABLE contraventions (
        id VARCHAR PRIMARY KEY,
        passage_id VARCHAR NOT NULL UNIQUE,
        camera_id VARCHAR NOT NULL,
        location VARCHAR,
        first_seen TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        timezone VARCHAR NOT NULL,
        vehicle_class VARCHAR NOT NULL,
        footage VARCHAR NOT NULL,
        footage_id VARCHAR NOT NULL,
        first_frame INTEGER NOT NULL,
        last_frame INTEGER NOT NULL,
        status VARCHAR NOT NULL DEFAULT 'pending',
        review_deadline TIMESTAMPTZ NOT NULL,
    """ + PLATE_COLUMNS + """
        created_at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX contraventions_deadline ON contraventions (status, review_deadline);
    """,
    # The audit log's hash chain (pipeline/history.py): the hash of the row before, this row's own
    # hash, and the full content of the decision, correction, gap or pack row it records.
    """
    ALTER TABLE audit_log ADD COLUMN record_table VARCHAR;
    ALTER TABLE audit_log ADD COLUMN record_key VARCHAR;
    ALTER TABLE audit_log ADD COLUMN record JSON;
    ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR;
    ALTER TABLE audit_log ADD COLUMN row_hash VARCHAR;
    """,
    # Lane decisions on unseen cameras (issue 13): the class vote behind the vehicle class
    # ({"bus": 0.62, "truck": 0.38}); passages cut by a recording's edge (cut_at_*: the vehicle was in the
    # lane at the file's first or last frames; edge_cut: flagged only because of that, so the review
    # queue puts it behind the other cases).
    """
    ALTER TABLE lane_passages ADD COLUMN class_votes JSON;
    ALTER TABLE lane_passages ADD COLUMN cut_at_start BOOLEAN DEFAULT false;
    ALTER TABLE lane_passages ADD COLUMN cut_at_end BOOLEAN DEFAULT false;
    ALTER TABLE lane_passages ADD COLUMN edge_cut BOOLEAN DEFAULT false;
    ALTER TABLE contraventions ADD COLUMN class_votes JSON;
    ALTER TABLE contraventions ADD COLUMN edge_cut BOOLEAN DEFAULT false;
    """,
    # The plate's country from the OCR's region head (issue 14), voted across reads weighted by confidence;
    # a plate of another country cannot be traced through the DVLA.
    """
    ALTER TABLE lane_passages ADD COLUMN plate_country VARCHAR;
    ALTER TABLE lane_passages ADD COLUMN plate_country_confidence DOUBLE;
    ALTER TABLE contraventions ADD COLUMN plate_country VARCHAR;
    ALTER TABLE contraventions ADD COLUMN plate_country_confidence DOUBLE;
    """,
    # Segment files are one recording (issue 13, item 6; pipeline/segments.py). A passage cut by a
    # file's edge keeps its whole track with classes and confidences (observations), to be re-judged
    # with the rest of it when the neighbouring file is recorded. A joined passage lists its parts
    # ([{"passage_id", "footage_id", "offset", "first_frame", "last_frame"}]: each file's own frame
    # numbers, and its frame 0 on the joined timeline, which counts from the first part's frame 0);
    # the halves it replaces are kept, pointing to it (superseded_by), as is any case made from one.
    """
    ALTER TABLE lane_passages ADD COLUMN observations JSON;
    ALTER TABLE lane_passages ADD COLUMN parts JSON;
    ALTER TABLE lane_passages ADD COLUMN superseded_by VARCHAR;
    ALTER TABLE contraventions ADD COLUMN superseded_by VARCHAR;
    """,
    # Metres (issue 17): on a calibrated site (pipeline/calibration.py) the passage's progress along the
    # lane on the road plane; NULL where the site has no calibration.
    """
    ALTER TABLE lane_passages ADD COLUMN distance_m DOUBLE;
    """,
]
