"""Shift handover: what is outstanding for the next shift, and the outgoing officers' notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.report import CameraReport, morning_report
from pipeline.store import Store, audit, now as utc_now
from review_app.services.queue import QueueFilter, queue_page
from review_app.services.users import User
from whitelist.gaps import Gap, open_gaps

NOTES_SHOWN = 20


@dataclass(frozen=True)
class Note:
    officer: str
    at: datetime
    note: str


@dataclass(frozen=True)
class Handover:
    pending: int
    overdue: int
    due_soon: int
    gaps: tuple[Gap, ...]
    faulty_cameras: tuple[CameraReport, ...]    # as the batch's morning report flags them
    notes: tuple[Note, ...]                     # newest first


def handover(store: Store, now: datetime | None = None) -> Handover:
    queue = queue_page(store, QueueFilter(status="pending"), page_size=1, now=now or utc_now())
    with store.connect() as con:
        gaps = tuple(open_gaps(con))
        notes = tuple(Note(*r) for r in con.execute(
            'SELECT officer, "at", note FROM handover_notes ORDER BY "at" DESC, id DESC LIMIT ?', [NOTES_SHOWN]
        ).fetchall())
    faulty = tuple(r for r in morning_report(store) if r.faulty)
    return Handover(queue.total, queue.overdue, queue.due_soon, gaps, faulty, notes)


def add_note(store: Store, user: User, text: str) -> Note | None:
    """Leave a note for the next shift; None for an empty one."""
    text = text.strip()
    if not text:
        return None
    at = utc_now()
    with store.transaction() as con:
        con.execute('INSERT INTO handover_notes (officer, "at", note) VALUES (?, ?, ?)', [user.name, at, text])
        audit(con, user.name, "review.handover_note", "handover_notes", None, note=text)
    return Note(user.name, at, text)
