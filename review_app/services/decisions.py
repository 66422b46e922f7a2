"""Validate, reject and reopen: append-only decisions that move a case's status.

Each decision is one transaction: the status changes only if the case is still in the state the
officer saw (pending, or decided for a reopen), the decision row and the audit row are written
with it, or nothing is. So when two officers decide one case, the second is told who decided it
and when, and their decision is not recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from pipeline.reasons import REASONS
from pipeline.store import Store, audit, now
from review_app.services import corrections, repeats
from review_app.services.timefmt import local_text
from review_app.services.users import User
from whitelist.gaps import flag_gap

NOTE_REQUIRED = {"other"}
DECIDED = ("validated", "rejected")
# Sessions of one app process share the database; a simultaneous update of the same case raises
# a conflict in one of them, which waits for the other to commit, then re-reads the case and
# reports who decided it.
_CONFLICT_WAIT = 0.02


class _NotMoved(Exception):
    """The case was not in a state to decide; the message says why."""


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
    confirm: str | None = None  # refused until the officer confirms this whitelist entry by name


def validate(store: Store, case_id: str, user: User, plate: str | None = None,
             confirmed: str | None = None) -> Outcome:
    """Validate, keying in `plate` first if given (correction and decision in one transaction).

    Refused without a plate (no notice can be served). Refused, unless `confirmed` repeats the
    refusal's `confirm`, for a plate that is whitelisted or nearly matches a whitelisted one (the
    entry is named) or that another validated case of this camera holds within `repeats.WINDOW`
    (that case is named: one contravention, one notice). Nothing is recorded when refused.
    """
    typed = (plate or "").strip()

    def check(con: duckdb.DuckDBPyConnection) -> Outcome | str | None:
        row = con.execute("SELECT plate, status, first_seen, timezone, whitelist_entry, whitelist_near_miss"
                          " FROM contraventions WHERE id = ?", [case_id]).fetchone()
        if row is None or row[1] != "pending":
            return None  # the status update says why
        old, _, first_seen, tz, entry, near_miss = row
        keyed = corrections.key_in(con, typed, first_seen, tz) if typed else None
        if isinstance(keyed, str):
            return Outcome(False, f"nothing recorded: {keyed}")
        if keyed is not None and corrections.unchanged(typed, old, keyed.plate):
            keyed = None  # the plate as read: validate it, no correction
        final = keyed.plate if keyed else old
        if not final:
            return Outcome(False, f"{case_id} has no plate: key it in (P) to validate; no notice can be served"
                                  " without one. Nothing recorded.")
        exact, near = (keyed.entry, keyed.near_miss) if keyed else (entry, near_miss)
        listed = f"whitelisted: {exact}" if exact else near
        validated = [r.text() for r in repeats.same_plate(con, case_id, final) if r.status == "validated"]
        named = "; ".join(filter(None, [listed, *validated]))
        if named and confirmed != named:
            duplicate = " (or reject it as 'Duplicate' if it is the same passage)" if validated else ""
            return Outcome(False, f"{final}: {named}. Confirm that to validate{duplicate}; nothing recorded.",
                           confirm=named)
        if keyed is not None:
            corrections.record(con, case_id, user, old, keyed)
            recorded.append(f"; plate {old or '(none)'} -> {keyed.plate} keyed in")
        return f"confirmed: {named}" if named else None  # the decision's note: the adjudicator sees what was weighed

    recorded: list[str] = []
    outcome = _decide(store, case_id, user, "validate", "validated", ("pending",), check=check)
    return Outcome(True, outcome.message + recorded[-1]) if outcome.ok and recorded else outcome


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
            reason_code: str | None = None, note: str | None = None, flag: GapFlag | None = None,
            check: Callable[[duckdb.DuckDBPyConnection], Outcome | str | None] | None = None) -> Outcome:
    """`check` runs first in the transaction: it refuses (an Outcome, before writing anything) or
    writes what goes with the decision, and may return the decision's note."""
    marks = ", ".join("?" for _ in from_statuses)
    flagged = ""
    deadline, wait = time.monotonic() + store.busy_timeout, _CONFLICT_WAIT
    while True:
        try:
            with store.transaction() as con:
                checked = check(con) if check is not None else None
                if isinstance(checked, Outcome):
                    return checked
                recorded_note = checked if isinstance(checked, str) else note  # this attempt's own check
                moved = con.execute(
                    f"UPDATE contraventions SET status = ? WHERE id = ? AND status IN ({marks}) RETURNING id",
                    [new_status, case_id, *from_statuses],
                ).fetchone()
                if moved is None:  # raised, so that whatever `check` wrote is rolled back
                    raise _NotMoved(_why_not(con, case_id))
                decision_id = con.execute(
                    'INSERT INTO decisions (contravention_id, officer, "at", action, reason_code, note)'
                    " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    [case_id, user.name, now(), action, reason_code, recorded_note],
                ).fetchone()[0]
                audit(con, user.name, f"review.{action}", "contravention", case_id, ("decisions", decision_id),
                      decision_id=decision_id, status=new_status, reason_code=reason_code, note=recorded_note)
                if flag is not None:
                    gap = flag_gap(con, flag.plate, flag.category, flag.note, case_id, actor=user.name)
                    flagged = f"; {gap.plate} flagged as missing from the whitelist"
            break
        except duckdb.TransactionException:
            if time.monotonic() > deadline:
                raise
            time.sleep(wait)
            wait = min(wait * 2, 0.5)
        except _NotMoved as e:
            return Outcome(False, str(e))
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
