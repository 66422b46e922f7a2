"""Validate, reject and reopen: append-only decisions that move a case's status.

Each decision is one transaction: the status changes only if the case is still in the state the
officer saw (pending, or decided for a reopen), the decision row and the audit row are written
with it, or nothing is. So when two officers decide one case, the second is told who decided it
and when, and their decision is not recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb

from pipeline.store import Store, audit, now
from review_app.services.timefmt import local_text
from review_app.services.users import User
from whitelist.gaps import flag_gap

# Reject reasons, in the order officers see them.
REASONS: dict[str, str] = {
    "permitted_not_whitelisted": "Permitted vehicle not on the whitelist",
    "whitelisted": "On the whitelist",
    "plate_unreadable": "Plate misread or unreadable",
    "not_driving_in_lane": "Not driving in the lane (e.g. turning left or entering premises)",
    "emergency_on_call": "Emergency vehicle on call",
    "outside_hours": "Outside hours",
    "signage_fault": "Signage or lining fault",
    "duplicate": "Duplicate",
    "other": "Other (note required)",
}
NOTE_REQUIRED = {"other"}
DECIDED = ("validated", "rejected")
# Sessions of one app process share the database; a simultaneous update of the same case raises
# a conflict in one of them, which waits for the other to commit, then re-reads the case and
# reports who decided it.
_CONFLICT_WAIT = 0.02


@dataclass(frozen=True)
class GapFlag:
    """A permitted vehicle missing from the whitelist, flagged along with the decision."""
    plate: str
    category: str
    note: str | None = None


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


def validate(store: Store, case_id: str, user: User) -> Outcome:
    return _decide(store, case_id, user, "validate", "validated", ("pending",))


def reject(store: Store, case_id: str, user: User, reason_code: str, note: str | None = None,
           flag: GapFlag | None = None) -> Outcome:
    note = (note or "").strip() or None
    if reason_code not in REASONS:
        return Outcome(False, f"unknown reason {reason_code!r}")
    if reason_code in NOTE_REQUIRED and not note:
        return Outcome(False, f"'{REASONS[reason_code]}': write a note saying why")
    return _decide(store, case_id, user, "reject", "rejected", ("pending",), reason_code, note, flag)


def reopen(store: Store, case_id: str, user: User, note: str | None) -> Outcome:
    """A supervisor puts a decided case back in the queue; the earlier decisions stay on record."""
    note = (note or "").strip() or None
    if not user.is_supervisor:
        return Outcome(False, "only a supervisor can reopen a case")
    if not note:
        return Outcome(False, "write a note saying why the case is reopened")
    return _decide(store, case_id, user, "reopen", "pending", DECIDED, None, note)


def _decide(store: Store, case_id: str, user: User, action: str, new_status: str, from_statuses: tuple[str, ...],
            reason_code: str | None = None, note: str | None = None, flag: GapFlag | None = None) -> Outcome:
    marks = ", ".join("?" for _ in from_statuses)
    flagged = ""
    deadline, wait = time.monotonic() + store.busy_timeout, _CONFLICT_WAIT
    while True:
        try:
            with store.transaction() as con:
                moved = con.execute(
                    f"UPDATE contraventions SET status = ? WHERE id = ? AND status IN ({marks}) RETURNING id",
                    [new_status, case_id, *from_statuses],
                ).fetchone()
                if moved is None:
                    return Outcome(False, _why_not(con, case_id))
                decision_id = con.execute(
                    'INSERT INTO decisions (contravention_id, officer, "at", action, reason_code, note)'
                    " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    [case_id, user.name, now(), action, reason_code, note],
                ).fetchone()[0]
                audit(con, user.name, f"review.{action}", "contravention", case_id, ("decisions", decision_id),
                      decision_id=decision_id, status=new_status, reason_code=reason_code, note=note)
                if flag is not None:
                    gap = flag_gap(con, flag.plate, flag.category, flag.note, case_id, actor=user.name)
                    flagged = f"; {gap.plate} flagged as missing from the whitelist"
            break
        except duckdb.TransactionException:
            if time.monotonic() > deadline:
                raise
            time.sleep(wait)
            wait = min(wait * 2, 0.5)
        except ValueError as e:  # a bad gap flag: the transaction rolled back, nothing recorded
            return Outcome(False, f"nothing recorded: {e}")
    done = {"validate": "validated", "reject": f"rejected ({REASONS.get(reason_code or '', '')})",
            "reopen": "reopened"}[action]
    return Outcome(True, f"{case_id} {done}{flagged}")


def _why_not(con: duckdb.DuckDBPyConnection, case_id: str) -> str:
    case = con.execute("SELECT status, timezone FROM contraventions WHERE id = ?", [case_id]).fetchone()
    if case is None:
        return f"no case {case_id}"
    status, tz = case
    if status == "pending":
        return f"{case_id} is pending: there is no decision to reopen"
    if status == "whitelisted":
        return f"{case_id} was cleared by the whitelist recheck; your decision was not recorded"
    last = con.execute(
        'SELECT officer, "at" FROM decisions WHERE contravention_id = ? ORDER BY "at" DESC, id DESC LIMIT 1',
        [case_id],
    ).fetchone()
    by = f" by {last[0]} at {local_text(last[1], tz)}" if last else ""
    return f"{case_id} was already {status}{by}; your decision was not recorded"
