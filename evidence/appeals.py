"""Appeal holds: a case under appeal keeps its evidence whatever the retention rules say.

A supervisor holds a case when an appeal (or a representation that may become one) is lodged, and
releases it when the appeal is over. Each hold and release is a new row in appeal_holds (never
updated) and an audit row; the latest row says whether the case is held. The CLI (`buslane appeal`)
and the review app's case page both call these functions; the app allows supervisors only.

>>> hold(store, "SZ-BUSLANE-01-20160318-122126-T15", "sam", "appeal lodged, TPT ref 2160012345")  # doctest: +SKIP
AppealHold(contravention_id='SZ-...', held=True, at=..., actor='sam', reason='appeal lodged, ...')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipeline.store import Store, audit, now


class AppealError(ValueError):
    """The hold or release cannot be made; the message names the case and says why."""


@dataclass(frozen=True)
class AppealHold:
    contravention_id: str
    held: bool       # False: the latest row is a release
    at: datetime
    actor: str
    reason: str


def current(con: duckdb.DuckDBPyConnection, case_id: str) -> AppealHold | None:
    """The case's latest hold or release, None if it was never held."""
    row = con.execute('SELECT action, "at", actor, reason FROM appeal_holds WHERE contravention_id = ?'
                      " ORDER BY id DESC LIMIT 1", [case_id]).fetchone()
    return AppealHold(case_id, row[0] == "hold", *row[1:]) if row else None


def held_cases(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every case whose latest row is a hold."""
    rows = con.execute("SELECT contravention_id FROM appeal_holds QUALIFY row_number() OVER"
                       " (PARTITION BY contravention_id ORDER BY id DESC) = 1 AND action = 'hold'").fetchall()
    return {r[0] for r in rows}


def status(store: Store, case_id: str) -> AppealHold | None:
    with store.connect() as con:
        return current(con, case_id)


def hold(store: Store, case_id: str, actor: str, reason: str) -> AppealHold:
    """Mark the case as under appeal; AppealError if there is no such case or it is already held."""
    return _change(store, case_id, actor, reason, "hold")


def release(store: Store, case_id: str, actor: str, reason: str) -> AppealHold:
    """End the case's appeal hold; AppealError if it is not held."""
    return _change(store, case_id, actor, reason, "release")


def _change(store: Store, case_id: str, actor: str, reason: str, action: str) -> AppealHold:
    reason, actor = (reason or "").strip(), (actor or "").strip()
    if not actor:
        raise AppealError(f"case {case_id}: say who {'holds' if action == 'hold' else 'releases'} it")
    if not reason:
        raise AppealError(f"case {case_id}: give a reason (e.g. the appeal's reference) for the {action}")
    with store.transaction() as con:
        if con.execute("SELECT 1 FROM contraventions WHERE id = ?", [case_id]).fetchone() is None:
            raise AppealError(f"no case {case_id}")
        was = current(con, case_id)
        if action == "hold" and was and was.held:
            raise AppealError(f"case {case_id} is already held for appeal (by {was.actor} at "
                              f"{was.at:%Y-%m-%d %H:%M %Z}: {was.reason})")
        if action == "release" and not (was and was.held):
            raise AppealError(f"case {case_id} is not held for appeal: nothing to release")
        at = now()
        hold_id = con.execute('INSERT INTO appeal_holds (contravention_id, action, "at", actor, reason)'
                              " VALUES (?, ?, ?, ?, ?) RETURNING id", [case_id, action, at, actor, reason]).fetchone()[0]
        audit(con, actor, f"appeal.{'held' if action == 'hold' else 'released'}", "contravention", case_id,
              ("appeal_holds", hold_id), reason=reason)
    return AppealHold(case_id, action == "hold", at, actor, reason)
