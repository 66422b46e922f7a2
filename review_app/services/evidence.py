"""Where a case's evidence is: the review copy and the stills written by the evidence package.

The evidence package records each case folder and file in evidence_cases / evidence_files; until
a case has rows there, the folder is looked for by its convention,
<root>/<camera>/<YYYY-MM-DD of the passage, camera-local>/<case id>/.
The root is the one the database recorded (the app's configured root only until one is), and a
stored folder or file name that leads outside it is refused and said on the page, never opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from evidence.settings import UnsafePath, case_file, case_folder, recorded_root

# File kinds as the evidence package records them, and the names it gives them by convention.
CONVENTION = {"review": "review.mp4", "overview": "overview.png", "closeup": "plate.png"}


@dataclass(frozen=True)
class EvidenceFiles:
    root: Path                  # the database's evidence root
    folder: Path
    review: Path | None         # the browser-playable review copy
    overview: Path | None
    closeup: Path | None        # the plate close-up
    deleted: str | None         # why the files are gone (retention), if they are
    problem: str | None = None  # a stored path refused as unsafe


def locate(con: duckdb.DuckDBPyConnection, root: Path, case_id: str, camera_id: str,
           first_seen: datetime, tz: str) -> EvidenceFiles:
    root = recorded_root(con) or root
    recorded = _recorded(con, case_id)
    day = first_seen.astimezone(ZoneInfo(tz)).date().isoformat()
    stored, names, deleted = recorded or (f"{camera_id}/{day}/{case_id}", CONVENTION, None)
    try:
        folder = case_folder(root, stored, case_id)
        paths = {kind: case_file(folder, name, case_id) for kind, name in names.items()}
    except UnsafePath as e:
        return EvidenceFiles(root, root, None, None, None, deleted, problem=str(e))

    def existing(kind: str) -> Path | None:
        path = paths.get(kind)
        return path if path is not None and path.is_file() else None

    return EvidenceFiles(root, folder, existing("review"), existing("overview"), existing("closeup"), deleted)


def _recorded(con: duckdb.DuckDBPyConnection, case_id: str) -> tuple[str, dict[str, str], str | None] | None:
    """(folder, {kind: file name}, deletion note) from the evidence tables, None if not recorded."""
    have = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name IN ('evidence_cases', 'evidence_files')"
    ).fetchall()}
    if have != {"evidence_cases", "evidence_files"}:
        return None
    case = con.execute(
        "SELECT folder, deleted_at, deletion_reason FROM evidence_cases WHERE contravention_id = ?", [case_id]
    ).fetchone()
    if case is None:
        return None
    files = con.execute(
        "SELECT kind, path FROM evidence_files WHERE contravention_id = ?", [case_id]
    ).fetchall()
    deleted = f"deleted {case[1]:%Y-%m-%d} ({case[2] or 'retention'})" if case[1] else None
    return case[0], dict(files), deleted
