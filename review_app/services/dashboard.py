"""Figures for the supervisor's dashboard, each one GROUP BY in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pipeline.store import Store, now as utc_now
from review_app.services.deadlines import DAYS_LEFT_SQL, DUE_SOON_DAYS

# Bands of days left for pending cases: (label, days left below which a case is in the band).
BANDS = (("overdue", 0), (f"0-{DUE_SOON_DAYS} days", DUE_SOON_DAYS + 1), (f"{DUE_SOON_DAYS + 1}-7 days", 8),
         ("8-14 days", None))


@dataclass(frozen=True)
class Dashboard:
    pending_by_band: tuple[tuple[str, int], ...]            # every band, in order, zero included
    overdue: int
    decisions: tuple[tuple[date, str, int], ...]           # (day, officer, decisions), newest day first
    per_camera_hour: tuple[tuple[str, int, int], ...]      # (camera, local hour of day, contraventions)


def dashboard(store: Store, now: datetime | None = None, decisions_tz: str = "Europe/London") -> Dashboard:
    now = now or utc_now()
    band_sql = "CASE " + " ".join(
        f"WHEN {DAYS_LEFT_SQL} < {below} THEN '{label}'" for label, below in BANDS[:-1]
    ) + f" ELSE '{BANDS[-1][0]}' END"
    with store.connect() as con:
        counts = dict(con.execute(
            f"SELECT {band_sql} AS band, count(*) FROM contraventions WHERE status = 'pending' GROUP BY band",
            [now] * (len(BANDS) - 1),
        ).fetchall())
        decisions = con.execute(
            """SELECT CAST(timezone(?, "at") AS DATE) AS day, officer, count(*) FROM decisions
               GROUP BY day, officer ORDER BY day DESC, officer""",
            [decisions_tz],
        ).fetchall()
        per_hour = con.execute(
            """SELECT camera_id, hour(timezone(timezone, first_seen)) AS hour, count(*) FROM contraventions
               GROUP BY camera_id, hour ORDER BY camera_id, hour"""
        ).fetchall()
    bands = tuple((label, counts.get(label, 0)) for label, _ in BANDS)
    return Dashboard(bands, counts.get("overdue", 0), tuple(decisions), tuple(per_hour))
