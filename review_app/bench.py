"""Benchmark: the queue page and a case page with 50,000 contraventions in the database.

    python -m review_app.bench [--cases N]

Fills a fresh database with synthetic cases (fill() is also how the tests get a queue with known
deadlines), then renders the queue page and a case page (opened by its `?case=ID` link) for a
signed-in officer through Streamlit's AppTest, and prints the times. It prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.deadlines import REVIEW_DAYS
from pipeline.store import Store, now as utc_now

APP = Path(__file__).with_name("app.py")


def fill(store: Store, n: int, now: datetime | None = None, spread_days: float = 20, cameras: int = 5,
         prefix: str = "BENCH") -> None:
    """Add n pending cases, the first seen `spread_days` ago and the last now, evenly spaced.

    With the default 20 days, deadlines run from 6 days overdue to 14 days ahead. Case i is
    `{prefix}-{i:06d}` on camera `{prefix}-CAM{i % cameras}`, plate `{prefix[:2]}{i % 100:02d}XYZ`
    (not a UK plate for every prefix: the plate is only there to be filtered on).
    """
    now = now or utc_now()
    start = now - timedelta(days=spread_days)
    step = timedelta(days=spread_days) / max(n - 1, 1)
    footage = f"{prefix}-footage"
    rows = f"""
        SELECT i, '{prefix}-' || lpad(CAST(i AS VARCHAR), 6, '0') AS id, '{prefix}-p' || i AS passage_id,
               '{prefix}-CAM' || (i % {cameras}) AS camera_id,
               CAST(? AS TIMESTAMPTZ) + i * CAST(? AS INTERVAL) AS seen,
               '{prefix[:2]}' || lpad(CAST(i % 100 AS VARCHAR), 2, '0') || 'XYZ' AS plate
        FROM range(?) r(i)"""
    with store.transaction() as con:
        # One synthetic recording spanning every case, so the morning report reads it like a real one.
        con.execute(
            "INSERT INTO footage_files (id, path, camera_id, start_time, end_time, timezone, fps, status, processed_at)"
            " VALUES (?, ?, ?, ?, ?, 'Europe/London', 25.0, 'processed', ?)",
            [footage, f"{footage}.mp4", f"{prefix}-CAM0", start, now + timedelta(seconds=2), now],
        )
        con.execute(
            f"""INSERT INTO lane_passages (id, footage_id, camera_id, track_id, vehicle_class, first_seen, last_seen,
                    first_frame, last_frame, frames_in_lane, seconds_in_lane, distance_px, in_force,
                    is_contravention, reason, plate)
                SELECT passage_id, '{footage}', camera_id, i, 'car', seen, seen + INTERVAL 2 SECOND, 0, 50, 50, 2.0,
                       150.0, 'Mon-Sun 00:00-24:00', TRUE, 'synthetic case for the benchmark', plate
                FROM ({rows})""",
            [start, step, n],
        )
        con.execute(
            f"""INSERT INTO contraventions (id, passage_id, camera_id, location, first_seen, last_seen, timezone,
                    vehicle_class, footage, footage_id, first_frame, last_frame, status, review_deadline, plate,
                    created_at)
                SELECT id, passage_id, camera_id, 'synthetic', seen, seen + INTERVAL 2 SECOND, 'Europe/London',
                       'car', '{footage}.mp4', '{footage}', 0, 50, 'pending', seen + INTERVAL {REVIEW_DAYS} DAY,
                       plate, CAST(? AS TIMESTAMPTZ)
                FROM ({rows})""",
            [now, start, step, n],
        )


def render_times(db: Path, runs: int, case_id: str | None = None) -> list[float]:
    """Seconds for each full run of the app script showing the queue (or case `case_id`) to a signed-in officer."""
    from streamlit.testing.v1 import AppTest

    from review_app.config import DB_ENV, USERS_ENV
    from review_app.services.sessions import Sessions
    from review_app.services.users import UsersFile
    from review_app.views.common import CASE_PARAM
    from review_app.views.signin import TOKEN

    users = UsersFile(db.with_name("bench-users.yaml"))
    user = next((u for u in users.users() if u.name == "bench"), None) or users.add("bench", "officer", "bench-password")
    os.environ[DB_ENV], os.environ[USERS_ENV] = str(db), str(users.path)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params[TOKEN] = Sessions(Store(db), users).start(user, "bench").token
    if case_id:
        at.query_params[CASE_PARAM] = case_id
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - began)
        assert not at.exception, at.exception
    assert at.title[0].value == (f"Case {case_id}" if case_id else "Review queue"), at.title
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        began = time.perf_counter()
        fill(Store(db), args.cases)
        print(f"filled {args.cases:,} pending contraventions in {time.perf_counter() - began:.2f} s")
        runs = max(2, args.runs)
        pages = {"queue page": render_times(db, runs), "case page": render_times(db, runs, f"BENCH-{args.cases // 2:06d}")}
    for page, times in pages.items():
        print(f"{page}, {args.cases:,} cases: first render {times[0]:.3f} s (includes imports), "
              f"then median {statistics.median(times[1:]):.3f} s, max {max(times[1:]):.3f} s over {len(times) - 1} runs")


if __name__ == "__main__":
    main()
