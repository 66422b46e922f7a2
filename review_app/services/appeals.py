"""Appeal holds from the case page: supervisors only, through evidence.appeals (which audits them)."""

from __future__ import annotations

from evidence import appeals
from evidence.appeals import AppealHold
from pipeline.store import Store
from review_app.services.decisions import Outcome
from review_app.services.users import User

__all__ = ["AppealHold", "hold", "release", "status"]


def status(store: Store, case_id: str) -> AppealHold | None:
    return appeals.status(store, case_id)


def hold(store: Store, case_id: str, user: User, reason: str) -> Outcome:
    return _change(appeals.hold, store, case_id, user, reason, "held for appeal: retention keeps its evidence")


def release(store: Store, case_id: str, user: User, reason: str) -> Outcome:
    return _change(appeals.release, store, case_id, user, reason, "released from its appeal hold")


def _change(action, store: Store, case_id: str, user: User, reason: str, done: str) -> Outcome:
    if not user.is_supervisor:
        return Outcome(False, "only a supervisor can hold or release a case for appeal")
    try:
        action(store, case_id, user.name, reason)
    except appeals.AppealError as e:
        return Outcome(False, str(e))
    return Outcome(True, f"Case {case_id} {done}")
