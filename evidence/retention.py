"""Delete evidence folders that are no longer needed; keep every database row and audit each deletion.

Age is measured from the contravention's first sighting. A pending case is never touched, nor is a
case in any status the rules do not name (for example one under appeal).

>>> rules = RetentionRules(rejected_days=31)
>>> rules.keep_days("rejected"), rules.keep_days("pending")
(31, None)
>>> apply_retention(store, Path("var/evidence"), rules, dry_run=True)  # doctest: +SKIP
[Deletion(contravention_id='SZ-...', status='rejected', ...)]
"""

from __future__ import annotations

import getpass
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.store import Store, audit
from pipeline.store import now as utc_now

PENALTY_NOTICE_DAYS = 28  # time to pay or make representations after the penalty charge notice
APPEAL_DAYS = 56          # then the adjudicator's appeal window


@dataclass(frozen=True)
class RetentionRules:
    rejected_days: int = 31
    exempt_days: int = 7                                  # whitelisted or exempt cases
    validated_days: int = PENALTY_NOTICE_DAYS + APPEAL_DAYS

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


def due(store: Store, root: Path, rules: RetentionRules, now: datetime) -> list[Deletion]:
    """Cases whose evidence the rules say to delete now (pending cases are never listed)."""
    rows = store.query(
        "SELECT e.contravention_id, e.folder, c.status, c.first_seen FROM evidence_cases e"
        " JOIN contraventions c ON c.id = e.contravention_id"
        " WHERE e.deleted_at IS NULL AND c.status <> 'pending' ORDER BY c.first_seen, e.contravention_id"
    )
    found = []
    for r in rows:
        days = rules.keep_days(r["status"])
        age = (now - r["first_seen"]).total_seconds() / 86400
        if days is not None and age >= days:
            found.append(Deletion(r["contravention_id"], r["status"], r["first_seen"], age, days, root / r["folder"]))
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
            con.execute(
                "UPDATE evidence_cases SET deleted_at = ?, deleted_by = ?, deletion_reason = ? WHERE contravention_id = ?",
                [utc_now(), actor, d.reason, d.contravention_id],
            )
            audit(con, actor, "evidence.deleted", "contravention", d.contravention_id, folder=str(d.folder),
                  status=d.status, first_seen=d.first_seen, keep_days=d.keep_days, reason=d.reason,
                  folder_present=d.folder.is_dir())
            # Last, so a failure to delete rolls the record back and the next run tries again.
            if d.folder.exists():
                shutil.rmtree(d.folder)
        done.append(d)
    return done
