"""The review queue: contraventions by review deadline, filtered and paged in SQL.

Only one page of rows leaves the database, so the queue stays fast with tens of thousands of cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pipeline.deadlines import DAYS_LEFT_SQL, DUE_SOON_DAYS, Urgency, urgency
from pipeline.store import Store, now as utc_now
from review_app.services.timefmt import local_text

STATUSES = ("pending", "validated", "rejected", "whitelisted")
PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = "pending"      # None: every status
    camera: str | None = None
    date_from: date | None = None       # camera-local day of the passage, inclusive
    date_to: date | None = None
    plate: str | None = None            # part of the plate; spaces and case ignored

    def where(self) -> tuple[str, list]:
        clauses, params = ["TRUE"], []
        if self.status:
            clauses.append("status = ?")
            params.append(self.status)
        if self.camera:
            clauses.append("camera_id = ?")
            params.append(self.camera)
        if self.date_from:
            clauses.append("CAST(timezone(timezone, first_seen) AS DATE) >= ?")
            params.append(self.date_from)
        if self.date_to:
            clauses.append("CAST(timezone(timezone, first_seen) AS DATE) <= ?")
            params.append(self.date_to)
        if self.plate and (needle := "".join(self.plate.split()).upper()):
            clauses.append("contains(plate, ?)")
            params.append(needle)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class QueueRow:
    id: str
    plate: str | None
    camera_id: str
    seen: str               # local time of the passage
    deadline: str           # local time of the review deadline
    days_left: int
    urgency: Urgency        # only for pending cases; decided ones are never late
    status: str


@dataclass(frozen=True)
class QueuePage:
    rows: tuple[QueueRow, ...]
    total: int              # rows matching the filter
    overdue: int            # of those, pending and past the deadline
    due_soon: int           # pending with at most DUE_SOON_DAYS days left
    page: int
    pages: int


def queue_page(store: Store, flt: QueueFilter, page: int = 0, page_size: int = PAGE_SIZE,
               now: datetime | None = None) -> QueuePage:
    now = now or utc_now()
    where, params = flt.where()
    with store.connect() as con:
        total, overdue, due_soon = con.execute(
            f"""SELECT count(*),
                       count(*) FILTER (WHERE status = 'pending' AND {DAYS_LEFT_SQL} < 0),
                       count(*) FILTER (WHERE status = 'pending' AND {DAYS_LEFT_SQL} BETWEEN 0 AND {DUE_SOON_DAYS})
                FROM contraventions WHERE {where}""",
            [now, now, *params],
        ).fetchone()
        pages = max(1, -(-total // page_size))
        page = min(max(page, 0), pages - 1)
        rows = con.execute(
            f"""SELECT id, plate, camera_id, first_seen, review_deadline, timezone, status, {DAYS_LEFT_SQL} AS days_left
                FROM contraventions WHERE {where}
                ORDER BY edge_cut, review_deadline, id LIMIT ? OFFSET ?""",  # cut by a recording's edge: last
            [now, *params, page_size, page * page_size],
        ).fetchall()
    return QueuePage(
        rows=tuple(
            QueueRow(id=r[0], plate=r[1], camera_id=r[2], seen=local_text(r[3], r[5]),
                     deadline=local_text(r[4], r[5]), days_left=r[7],
                     urgency=urgency(r[7]) if r[6] == "pending" else Urgency.OK, status=r[6])
            for r in rows
        ),
        total=total, overdue=overdue, due_soon=due_soon, page=page, pages=pages,
    )


def cameras(store: Store) -> list[str]:
    return [r["camera_id"] for r in store.query("SELECT DISTINCT camera_id FROM contraventions ORDER BY 1")]


def next_pending(store: Store, after: str | None = None) -> str | None:
    """The most urgent pending case, other than `after` (the case just left)."""
    rows = store.query(
        "SELECT id FROM contraventions WHERE status = 'pending' AND id IS DISTINCT FROM ?"
        " ORDER BY edge_cut, review_deadline, id LIMIT 1",
        [after],
    )
    return rows[0]["id"] if rows else None


def neighbour(store: Store, case_id: str, step: int) -> str | None:
    """The pending case `step` places after (negative: before) `case_id` in the queue's order."""
    rows = store.query(
        """WITH q AS (SELECT id, row_number() OVER (ORDER BY edge_cut, review_deadline, id) AS n
                      FROM contraventions WHERE status = 'pending' OR id = ?)
           SELECT id FROM q WHERE n = (SELECT n FROM q WHERE id = ?) + ?""",
        [case_id, case_id, step],
    )
    return rows[0]["id"] if rows else None
