"""Figures for the supervisor's dashboard, each one GROUP BY in the database.

The 14-day target is counted by the UK calendar, as the deadlines are shown: a case is decided within
14 days when its first decision (validate or reject; a later reopen does not change it) falls on or
before its deadline's day. A week's share counts the cases seen that week whose outcome is known:
decided, or still pending after their deadline's day (late, however it ends). Cases still within
their 14 days are not counted yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pipeline.deadlines import DAYS_LEFT_SQL, DUE_SOON_DAYS
from pipeline.store import Store, now as utc_now

# Bands of days left for pending cases: (label, days left below which a case is in the band).
BANDS = (("overdue", 0), (f"0-{DUE_SOON_DAYS} days", DUE_SOON_DAYS + 1), (f"{DUE_SOON_DAYS + 1}-7 days", 8),
         ("8-14 days", None))


@dataclass(frozen=True)
class Dashboard:
    pending_by_band: tuple[tuple[str, int], ...]            # every band, in order, zero included
    overdue: int
    decisions: tuple[tuple[date, str, int], ...]           # (day, officer, decisions), newest day first
    per_camera_hour: tuple[tuple[str, int, int], ...]      # (camera, local hour of day, contraventions)
    on_time_by_week: tuple[OnTime, ...]                    # week seen (its Monday), newest first
    on_time_by_officer: tuple[OnTime, ...]                 # by who made the first decision
    late: tuple[LateDecision, ...]                         # most days late first


@dataclass(frozen=True)
class OnTime:
    group: str              # the week's Monday (YYYY-MM-DD) or the officer
    within: int             # decided on or before the deadline's day
    counted: int            # decided, plus (by week) still pending past the deadline's day

    @property
    def share(self) -> float:
        return self.within / self.counted if self.counted else 0.0


@dataclass(frozen=True)
class LateDecision:
    case_id: str
    officer: str
    decided_at: datetime
    deadline: datetime
    days_late: int          # UK calendar days after the deadline's day


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
        outcome_params = [decisions_tz, decisions_tz, now]
        by_week = con.execute(
            f"""{_OUTCOMES} SELECT strftime(date_trunc('week', timezone(?, first_seen)), '%Y-%m-%d') AS week,
                       count(*) FILTER (WHERE days_late <= 0), count(*)
                FROM outcomes GROUP BY week ORDER BY week DESC""", [*outcome_params, decisions_tz]).fetchall()
        by_officer = con.execute(
            f"""{_OUTCOMES} SELECT officer, count(*) FILTER (WHERE days_late <= 0), count(*) FROM outcomes
                WHERE officer IS NOT NULL GROUP BY officer ORDER BY officer""", outcome_params).fetchall()
        late = con.execute(
            f"""{_OUTCOMES} SELECT id, officer, decided_at, review_deadline, days_late FROM outcomes
                WHERE officer IS NOT NULL AND days_late > 0 ORDER BY days_late DESC, decided_at DESC""",
            outcome_params).fetchall()
    bands = tuple((label, counts.get(label, 0)) for label, _ in BANDS)
    return Dashboard(bands, counts.get("overdue", 0), tuple(decisions), tuple(per_hour),
                     tuple(OnTime(*r) for r in by_week), tuple(OnTime(*r) for r in by_officer),
                     tuple(LateDecision(*r) for r in late))


# Cases whose outcome against the target is known: the first decision of each decided case, and the
# pending cases past their deadline's day (officer NULL). days_late: UK calendar days past the deadline.
_OUTCOMES = """
    WITH first AS (
        SELECT contravention_id, min_by(officer, "at") AS officer, min("at") AS decided_at FROM decisions
        WHERE action IN ('validate', 'reject') GROUP BY contravention_id),
    known AS (
        SELECT c.id, c.first_seen, c.review_deadline, f.officer, f.decided_at,
               date_diff('day', CAST(timezone(?, c.review_deadline) AS DATE),
                         CAST(timezone(?, coalesce(f.decided_at, CAST(? AS TIMESTAMPTZ))) AS DATE)) AS days_late
        FROM contraventions c LEFT JOIN first f ON f.contravention_id = c.id
        WHERE f.decided_at IS NOT NULL OR c.status = 'pending'),
    outcomes AS (SELECT * FROM known WHERE decided_at IS NOT NULL OR days_late > 0)
"""
