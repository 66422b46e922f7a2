"""Where a case's evidence is: the review copy and the stills written by the evidence package.

The evidence package records each case folder and file in evidence_cases / evidence_files; until
a case has rows there, the folder is looked for by its convention,
<root>/<camera>/<YYYY-MM-DD of the passage, camera-local>/<case id>/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

# File kinds as the evidence package records them, and the names it gives them by convention.
CONVENTION = {"review": "review.mp4", "overview": "overview.png", "closeup": "plate.png"}


@dataclass(frozen=True)
class EvidenceFiles:
    folder: Path
    review: Path | None         # the browser-playable review copy
    overview: Path | None
    closeup: Path | None        # the plate close-up
    deleted: str | None         # why the files are gone (retention), if they are


def locate(con: duckdb.DuckDBPyConnection, root: Path, case_id: str, camera_id: str,
           first_seen: datetime, tz: str) -> EvidenceFiles:
    recorded = _recorded(con, case_id)
    if recorded is None:
        day = first_seen.astimezone(ZoneInfo(tz)).date().isoformat()
        folder, names, deleted = root / camera_id / day / case_id, CONVENTION, None
    else:
        folder, names, deleted = root / recorded[0], recorded[1], recorded[2]

    def existing(kind: str) -> Path | None:
        path = folder / names[kind] if kind in names else None
        return path if path is not None and path.is_file() else None

    return EvidenceFiles(folder, existing("review"), existing("overview"), existing("closeup"), deleted)


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
