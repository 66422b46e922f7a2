"""How each camera's cases fare with the officers, per ISO week: what the officers' decisions say about the camera.

For each camera and ISO week of the contraventions (camera-local time), over the cases decided
(validated or rejected; a reopened case counts once, by its latest decision):

- validated and rejected, the rejections by reason (review reason codes);
- plates corrected by an officer, and at which character positions of the reading (1-based, from
  difflib's alignment of the reading with the correction; a plate keyed in where none was read has
  no positions and is counted apart);
- whitelist gaps flagged from those cases;
- the median time from the case entering the queue to its first decision.

A camera's rejection rate that jumps against its own recent weeks is flagged in the morning report
(`rejection_jumps`): the latest week with decisions, at least MIN_DECISIONS of them, rejected at a rate
more than JUMP above the mean of its previous RECENT_WEEKS weeks (those with decisions). Its own weeks,
because each site has its own normal share of rejections (a lane with a busy left turn rejects more);
a jump is what a camera knocked out of position or a repainted lane looks like. At least 10 decisions,
so that two rejections on a quiet week do not raise it; 20 points, well above the week-to-week change
of a steady camera, so that a flag is worth someone's visit.

It reads the review tables by name (as pipeline.history does) and never imports review_app.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from difflib import SequenceMatcher
from zoneinfo import ZoneInfo

from pipeline.store import Store

MIN_DECISIONS = 10
JUMP = 0.20
RECENT_WEEKS = 4


@dataclass(frozen=True)
class CameraWeek:
    camera_id: str
    week: str                                         # ISO week, e.g. 2026-W48
    decided: int
    validated: int
    rejected: int
    rejected_by_reason: tuple[tuple[str, int], ...]   # (reason code, cases), most first
    corrected: int                                    # cases whose plate an officer corrected
    positions: tuple[tuple[int, int], ...]            # (character position, corrections that changed it)
    keyed_without_read: int                           # corrections where the reader had read no plate
    gaps: int                                         # whitelist gaps flagged from these cases
    median_hours_to_decision: float | None

    @property
    def validated_share(self) -> float:
        return self.validated / self.decided

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.decided

    @property
    def monday(self) -> date:
        year, week = self.week.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)

    @property
    def reasons_text(self) -> str:
        return ", ".join(f"{r} {n}" for r, n in self.rejected_by_reason)

    @property
    def positions_text(self) -> str:
        return ", ".join(f"{p}: {n}" for p, n in self.positions)

    def text(self) -> str:
        reasons, where = self.reasons_text, self.positions_text
        hours = f"{self.median_hours_to_decision:.1f} h" if self.median_hours_to_decision is not None else "-"
        return (f"{self.camera_id} {self.week}: {self.decided} decided, {self.validated_share:.0%} validated, "
                f"{self.rejected_share:.0%} rejected" + (f" ({reasons})" if reasons else "")
                + f"; plate corrected {self.corrected}" + (f" (positions {where})" if where else "")
                + (f", keyed where none read {self.keyed_without_read}" if self.keyed_without_read else "")
                + f"; whitelist gaps {self.gaps}; median time to decision {hours}")


@dataclass(frozen=True)
class RejectionJump:
    camera_id: str
    week: str
    rate: float
    decided: int
    baseline: float          # mean rejection rate of the previous weeks
    baseline_weeks: int

    def text(self) -> str:
        return (f"REJECTIONS UP in {self.week}: {self.rate:.0%} of {self.decided} decisions rejected against "
                f"{self.baseline:.0%} over its previous {self.baseline_weeks} week(s): check the camera's view and "
                "the lane's markings")


_CASES = """
    WITH final AS (
        SELECT contravention_id, max(id) FILTER (WHERE action IN ('validate', 'reject')) AS last_id,
               min("at") FILTER (WHERE action IN ('validate', 'reject')) AS first_at
        FROM decisions GROUP BY contravention_id
    )
    SELECT c.id, c.camera_id, c.first_seen, c.timezone, c.created_at, d.action, d.reason_code, f.first_at
    FROM contraventions c JOIN final f ON f.contravention_id = c.id JOIN decisions d ON d.id = f.last_id
    WHERE c.status IN ('validated', 'rejected')
"""


def changed_positions(old: str, new: str) -> set[int]:
    """1-based positions of `old` that the correction changed (or where it inserted characters).

    >>> sorted(changed_positions("AB12COE", "AB12CDE")), sorted(changed_positions("AB2CDE", "AB12CDE"))
    ([6], [3])
    """
    out: set[int] = set()
    for tag, i1, i2, _, _ in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            out.update(range(i1 + 1, i2 + 1))
        elif tag == "insert":
            out.add(i1 + 1)
    return out


def accuracy(store: Store) -> list[CameraWeek]:
    """Per camera and ISO week, oldest first."""
    cases = store.query(_CASES)
    corrections = defaultdict(list)
    for r in store.query('SELECT contravention_id, old, new FROM plate_corrections ORDER BY "at", id'):
        corrections[r["contravention_id"]].append((r["old"], r["new"]))
    gaps = Counter(r["contravention_id"] for r in store.query(
        "SELECT contravention_id FROM whitelist_gaps WHERE contravention_id IS NOT NULL"))
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for c in cases:
        year, week, _ = c["first_seen"].astimezone(ZoneInfo(c["timezone"])).isocalendar()
        groups[(c["camera_id"], f"{year}-W{week:02d}")].append(c)
    out = []
    for (camera, week), group in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
        positions: Counter[int] = Counter()
        keyed = 0
        for c in group:
            for old, new in corrections[c["id"]]:
                if old:
                    positions.update(changed_positions(old, new))
                else:
                    keyed += 1
        rejected = [c for c in group if c["action"] == "reject"]
        hours = [(c["first_at"] - c["created_at"]).total_seconds() / 3600 for c in group]
        out.append(CameraWeek(
            camera, week, len(group), len(group) - len(rejected), len(rejected),
            tuple(Counter(c["reason_code"] for c in rejected).most_common()),
            sum(1 for c in group if corrections[c["id"]]), tuple(sorted(positions.items())), keyed,
            sum(gaps[c["id"]] for c in group), statistics.median(hours)))
    return out


def rejection_jumps(weeks: list[CameraWeek]) -> list[RejectionJump]:
    """Cameras whose latest week's rejection rate jumps against their previous weeks (rule in the module doc)."""
    by_camera: dict[str, list[CameraWeek]] = defaultdict(list)
    for w in weeks:
        by_camera[w.camera_id].append(w)
    jumps = []
    for camera, rows in sorted(by_camera.items()):
        latest = max(rows, key=lambda w: w.monday)
        start = latest.monday - timedelta(weeks=RECENT_WEEKS)
        before = [w for w in rows if start <= w.monday < latest.monday]
        if latest.decided < MIN_DECISIONS or not before:
            continue
        baseline = statistics.mean(w.rejected_share for w in before)
        if latest.rejected_share - baseline > JUMP:
            jumps.append(RejectionJump(camera, latest.week, latest.rejected_share, latest.decided, baseline,
                                       len(before)))
    return jumps
