"""Delete evidence folders that are no longer needed; keep every database row and audit each deletion.

Age is measured from the contravention's first sighting. A pending case is never touched, nor is a
case in any status the rules do not name, a case held for appeal (evidence.appeals), or a case
whose evidence pack was exported within `exported_days` (the pack may be before a tribunal even
if nobody placed a hold). Day counts must not be negative.

>>> rules = RetentionRules(rejected_days=31)
>>> rules.keep_days("rejected"), rules.keep_days("pending")
(31, None)
>>> RetentionRules(validated_days=-1)
Traceback (most recent call last):
ValueError: validated_days is -1: day counts must not be negative
>>> apply_retention(store, Path("var/evidence"), rules, dry_run=True)  # doctest: +SKIP
[Deletion(contravention_id='SZ-...', status='rejected', ...)]
"""

from __future__ import annotations

import getpass
import shutil
import socket
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from evidence.appeals import current as appeal_hold
from evidence.appeals import held_cases
from evidence.settings import case_folder
from pipeline.store import Store, audit
from pipeline.store import now as utc_now

PENALTY_NOTICE_DAYS = 28  # time to pay or make representations after the penalty charge notice
APPEAL_DAYS = 56          # then the adjudicator's appeal window


@dataclass(frozen=True)
class RetentionRules:
    rejected_days: int = 31
    exempt_days: int = 7                                  # whitelisted or exempt cases
    validated_days: int = PENALTY_NOTICE_DAYS + APPEAL_DAYS
    exported_days: int = 365                              # kept this long after any evidence pack export

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} is {getattr(self, f.name)}: day counts must not be negative")

    def keep_days(self, status: str) -> int | None:
        """Days to keep a case's evidence by status; None means keep it."""
        return {
            "rejected": self.rejected_days,
            "whitelisted": self.exempt_days,
            "exempt": self.exempt_days,
            "validated": self.validated_days,
        }.get(status)


@dataclass(frozen=True)
class Deletion:
    contravention_id: str
    status: str
    first_seen: datetime
    age_days: float
    keep_days: int
    folder: Path

    @property
    def reason(self) -> str:
        return f"retention: {self.status} case, kept {self.keep_days} days from first sighting (age {self.age_days:.0f} days)"


def _exported_since(con: duckdb.DuckDBPyConnection, case_id: str, since: datetime) -> bool:
    return con.execute("SELECT 1 FROM packs WHERE contravention_id = ? AND created_at > ?", [case_id, since]).fetchone() is not None


def due(store: Store, root: Path, rules: RetentionRules, now: datetime) -> list[Deletion]:
    """Cases whose evidence the rules say to delete now (never pending, held or recently exported ones).

    A stored folder outside the root raises UnsafePath before anything is deleted.
    """
    since = now - timedelta(days=rules.exported_days)
    with store.connect() as con:
        rows = con.execute(
            "SELECT e.contravention_id, e.folder, c.status, c.first_seen FROM evidence_cases e"
            " JOIN contraventions c ON c.id = e.contravention_id"
            " WHERE e.deleted_at IS NULL AND c.status <> 'pending' ORDER BY c.first_seen, e.contravention_id"
        ).fetchall()
        held = held_cases(con)
        exported = {r[0] for r in con.execute("SELECT contravention_id FROM packs WHERE created_at > ?", [since]).fetchall()}
    found = []
    for case_id, folder, status, first_seen in rows:
        days = rules.keep_days(status)
        age = (now - first_seen).total_seconds() / 86400
        if days is not None and age >= days and case_id not in held | exported:
            found.append(Deletion(case_id, status, first_seen, age, days, case_folder(root, folder, case_id)))
    return found


def apply_retention(store: Store, root: Path, rules: RetentionRules = RetentionRules(), *,
                    now: datetime | None = None, dry_run: bool = False, actor: str | None = None) -> list[Deletion]:
    """Delete the folders due at `now` (default: the current time), or with dry_run only list them."""
    now = now or utc_now()
    actor = actor or f"retention:{getpass.getuser()}@{socket.gethostname()}"
    candidates = due(store, root, rules, now)
    if dry_run:
        return candidates
    done = []
    for d in candidates:
        with store.transaction() as con:
            # The review app may have reopened the case since `due` looked: check again under the lock.
            status = con.execute("SELECT status FROM contraventions WHERE id = ?", [d.contravention_id]).fetchone()
            if status is None or status[0] != d.status:
                continue
            hold = appeal_hold(con, d.contravention_id)  # held or exported since `due` looked
            if (hold and hold.held) or _exported_since(con, d.contravention_id, now - timedelta(days=rules.exported_days)):
                continue
            con.execute(
                "UPDATE evidence_cases SET deleted_at = ?, deleted_by = ?, deletion_reason = ? WHERE contravention_id = ?",
                [utc_now(), actor, d.reason, d.contravention_id],
            )
            audit(con, actor, "evidence.deleted", "contravention", d.contravention_id,
                  ("evidence_cases", d.contravention_id), folder=str(d.folder),
                  status=d.status, first_seen=d.first_seen, keep_days=d.keep_days, reason=d.reason,
                  folder_present=d.folder.is_dir())
            # Last, so a failure to delete rolls the record back and the next run tries again.
            if d.folder.exists():
                shutil.rmtree(d.folder)
        done.append(d)
    return done
