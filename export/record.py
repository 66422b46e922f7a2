"""Record an export and publish its file in one transaction: the exports row, its audit row in the history chain,
and the file renamed into place only if both are written.

The transaction checks again that every case is still validated by the decision that was read, and
(unless named to go again) not exported meanwhile by someone else: a case never goes out twice by accident.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from evidence.pack.publish import published, staged
from export.cases import DecidedCase, ExportError
from pipeline.store import Store, audit, now


@dataclass(frozen=True)
class Recorded:
    export_id: str
    kind: str
    created_by: str
    created_at: datetime
    file_name: str
    sha256: str
    cases: tuple[str, ...]
    data: bytes


def new_export_id(kind: str, at: datetime) -> str:
    return f"{kind.replace('_', '-')}-{at:%Y%m%d}-{uuid.uuid4().hex[:8]}"


def record_export(store: Store, kind: str, actor: str, file_name: str, fmt: str, data: bytes,
                  cases: list[DecidedCase], again: tuple[str, ...] = (), out: Path | None = None,
                  export_id: str | None = None, at: datetime | None = None) -> Recorded:
    """Write the exports row and its audit row; with `out`, publish `data` there inside the transaction."""
    at = at or now()
    export_id = export_id or new_export_id(kind, at)
    sha = hashlib.sha256(data).hexdigest()
    ids = [c.id for c in cases]
    with staged(out) as partial:
        if partial:
            partial.write_bytes(data)
        with published(store, partial, out) as con:  # a file is out only if it is recorded
            for case in cases:
                last = con.execute("SELECT c.status, max(d.id) FROM contraventions c LEFT JOIN decisions d"
                                   " ON d.contravention_id = c.id WHERE c.id = ? GROUP BY c.status", [case.id]).fetchone()
                if last != ("validated", case.decision_id):
                    raise ExportError(f"case {case.id} was decided again while the export was being made: "
                                      "nothing exported, try again")
                if case.id not in again and con.execute(
                        "SELECT id FROM exports WHERE kind = ? AND list_contains(cases, ?)", [kind, case.id]).fetchone():
                    raise ExportError(f"case {case.id} was exported by someone else meanwhile: nothing exported, "
                                      "try again")
            con.execute("INSERT INTO exports (id, kind, created_by, created_at, file_name, format, sha256, cases, again)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [export_id, kind, actor, at, file_name, fmt, sha, ids, list(again)])
            audit(con, actor, f"export.{kind}", "exports", export_id, ("exports", export_id), file=file_name,
                  sha256=sha, rows=len(ids))
    return Recorded(export_id, kind, actor, at, file_name, sha, tuple(ids), data)
