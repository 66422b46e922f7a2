"""Other cases of the same plate on the same camera close in time.

Either one passage the batch recorded twice (a track broken for longer than re-linking bridges, as
on a dim copy of JamCam 3 in the lane benchmark) or a driver who went round again. One
contravention gets one notice: the case page lists such cases, and validating a plate that another
validated case already holds needs that case confirmed by name (`decisions.validate`); the
officer otherwise rejects the later one as "Duplicate".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

# A vehicle split in two is seconds apart; a quarter of an hour also catches a loop round the block,
# which the officer then confirms as a second contravention or rejects as a duplicate.
WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Repeat:
    case_id: str
    status: str
    apart_s: float  # seconds from the end of the earlier case to the start of the later; 0 if they overlap
    earlier: bool   # whether this other case came first

    def text(self) -> str:
        """'case X (validated), 1.3 s before this one', the words a confirmation must repeat."""
        when = ("at the same time as this one" if self.apart_s == 0 else
                f"{self.apart_s:.1f} s {'before' if self.earlier else 'after'} this one")
        return f"case {self.case_id} ({self.status}), same plate on this camera {when}"


def same_plate(con: duckdb.DuckDBPyConnection, case_id: str, plate: str | None = None) -> list[Repeat]:
    """Pending and validated cases of this camera with `plate` (default: the case's own) seen within
    WINDOW of this one, earliest first. A validated half of a passage joined later keeps its status
    (and its notice), so it is listed too."""
    this = con.execute("SELECT camera_id, plate, first_seen, last_seen FROM contraventions WHERE id = ?",
                       [case_id]).fetchone()
    if this is None:
        return []
    camera, own, first, last = this
    plate = plate or own
    if not plate:
        return []
    rows = con.execute(
        "SELECT id, status, first_seen, last_seen FROM contraventions WHERE camera_id = ? AND plate = ?"
        " AND id <> ? AND status IN ('pending', 'validated')"
        " AND last_seen >= ? AND first_seen <= ? ORDER BY first_seen, id",
        [camera, plate, case_id, first - WINDOW, last + WINDOW]).fetchall()
    return [_repeat(other, status, (first, last), (o_first, o_last)) for other, status, o_first, o_last in rows]


def _repeat(other: str, status: str, this: tuple[datetime, datetime], that: tuple[datetime, datetime]) -> Repeat:
    earlier = that[0] < this[0]
    gap = (this[0] - that[1]) if earlier else (that[0] - this[1])
    return Repeat(other, status, max(gap.total_seconds(), 0.0), earlier)
