"""One case as the officer reviews it: the contravention, its lane passage, evidence and history."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path

from evidence.writer import METADATA
from pipeline.deadlines import days_left, describe, describe_decided
from pipeline.lane_rules import distance_text  # the batch's own words for a distance
from pipeline.reasons import REASONS
from pipeline.store import Store, audit, now as utc_now
from review_app.services.evidence import EvidenceFiles, locate
from review_app.services.repeats import Repeat, same_plate
from review_app.services.timefmt import local_text


@dataclass(frozen=True)
class Case:
    id: str
    status: str
    camera_id: str
    location: str | None
    timezone: str
    first_seen: datetime
    last_seen: datetime
    review_deadline: datetime
    vehicle_class: str
    footage: str
    first_frame: int
    last_frame: int
    # the plate read (any may be NULL until the plate reader has run)
    plate: str | None
    plate_confidence: float | None
    plate_status: str | None
    plate_format: str | None
    plate_reads: int | None
    plate_alternatives: tuple          # as the reader stored them
    plate_crop: bytes | None           # PNG of the best read's crop
    plate_country: str | None          # the OCR's reading of the plate's country (None: not predicted)
    plate_country_confidence: float | None
    whitelist_version: int | None
    whitelist_entry: str | None
    whitelist_near_miss: str | None
    # the lane passage
    seconds_in_lane: float
    distance_px: float                 # progress along the drawn centreline (negative: against the direction of travel)
    distance_m: float | None           # the same on the road plane, on a calibrated site
    in_force: str | None
    reason: str
    class_votes: dict                  # the detector's class votes, class -> share ({} if not recorded)
    evidence: EvidenceFiles
    plate_keyed_by: str | None = None  # the officer whose correction set the current plate, if one did
    plate_keyed_at: datetime | None = None
    decided_at: datetime | None = None      # the first validate or reject: what the review deadline judges
    lane_length_px: float | None = None     # the drawn centreline the batch used (metadata.json), if known
    repeats: tuple[Repeat, ...] = ()        # other cases of this plate on this camera close in time

    def local(self, value: datetime | None) -> str:
        return local_text(value, self.timezone)

    def days_left(self, now: datetime | None = None) -> int:
        return days_left(self.review_deadline, now or utc_now())

    def due(self, now: datetime | None = None) -> str:
        """'due today', '3 days left', '1 day overdue' (calendar days, UK time)."""
        return describe(self.days_left(now))

    def decided(self) -> str | None:
        """'decided 3 days before the review deadline' (the pack says it the same way); None if undecided."""
        return describe_decided(self.review_deadline, self.decided_at) if self.decided_at else None

    def travelled(self) -> str:
        """'drove 42 m along the bus lane in 3.1 s' on a calibrated site; else pixels and their share of the lane."""
        far = distance_text(self.distance_px, self.distance_m)
        against = " against the direction of travel" if self.distance_px < 0 else ""
        if self.distance_m is not None:
            return f"drove {far} along the bus lane{against} in {self.seconds_in_lane:.1f} s"
        share = f", {abs(self.distance_px) / self.lane_length_px:.0%} of its length," if self.lane_length_px else ""
        return (f"drove {far}{share} along the lane{against} in {self.seconds_in_lane:.1f} s "
                "(image pixels: the site is not calibrated to metres)")


@dataclass(frozen=True)
class ReviewTiming:
    """How the review copy's frames map to the footage's, for the frame counter under the player."""

    fps: float
    first_frame: int  # the footage frame that is the review copy's first


def _metadata(evidence: EvidenceFiles) -> dict:
    """The case folder's metadata.json (written with the evidence); {} if there is none to read."""
    try:
        return json.loads((evidence.folder / METADATA).read_text())
    except (OSError, ValueError):
        return {}


def review_timing(evidence: EvidenceFiles) -> ReviewTiming | None:
    """From the case folder's metadata.json (written with the review copy); None if it says nothing."""
    try:
        info = _metadata(evidence)["files"][evidence.review.name]
        return ReviewTiming(float(info["fps"]), int(info["first_frame"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _lane_length(evidence: EvidenceFiles) -> float | None:
    """The drawn length of the centreline in the site file the batch used, in pixels; None if not recorded."""
    try:
        points = _metadata(evidence)["site_config"]["config"]["centreline"]
    except (KeyError, TypeError):
        return None
    return sum(math.dist(a, b) for a, b in pairwise(points)) or None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    officer: str
    what: str


_CASE_SQL = """
    SELECT c.id, c.status, c.camera_id, c.location, c.timezone, c.first_seen, c.last_seen, c.review_deadline,
           c.vehicle_class, c.footage, c.first_frame, c.last_frame,
           c.plate, c.plate_confidence, c.plate_status, c.plate_format, p.plate_reads, p.plate_alternatives,
           p.plate_crop, c.plate_country, c.plate_country_confidence,
           c.whitelist_version, c.whitelist_entry, c.whitelist_near_miss,
           p.seconds_in_lane, p.distance_px, p.distance_m, p.in_force, p.reason, c.class_votes,
           (SELECT min(d."at") FROM decisions d WHERE d.contravention_id = c.id
             AND d.action IN ('validate', 'reject')) AS decided_at
    FROM contraventions c JOIN lane_passages p ON p.id = c.passage_id
    WHERE c.id = ?
"""


def load_case(store: Store, case_id: str, evidence_root: Path) -> Case | None:
    with store.connect() as con:
        cur = con.execute(_CASE_SQL, [case_id])
        row = cur.fetchone()
        if row is None:
            return None
        values = dict(zip([d[0] for d in cur.description], row))
        values["plate_alternatives"] = tuple(json.loads(values["plate_alternatives"] or "[]"))
        values["class_votes"] = json.loads(values["class_votes"] or "{}")
        values["evidence"] = locate(con, evidence_root, case_id, values["camera_id"], values["first_seen"],
                                    values["timezone"])
        values["lane_length_px"] = _lane_length(values["evidence"])
        values["repeats"] = tuple(same_plate(con, case_id))
        keyed = con.execute(
            'SELECT officer, "at", new FROM plate_corrections WHERE contravention_id = ? ORDER BY "at" DESC, id DESC'
            " LIMIT 1", [case_id]
        ).fetchone()
        if keyed and keyed[2] == values["plate"]:
            values["plate_keyed_by"], values["plate_keyed_at"] = keyed[0], keyed[1]
    return Case(**values)


def record_view(store: Store, case_id: str, officer: str) -> None:
    with store.transaction() as con:
        audit(con, officer, "review.case_viewed", "contravention", case_id)


def history(store: Store, case_id: str) -> list[HistoryEntry]:
    """Decisions, plate corrections, whitelist gaps flagged for the case and its exports, oldest first."""
    with store.connect() as con:
        decisions = con.execute(
            'SELECT "at", officer, action, reason_code, note FROM decisions WHERE contravention_id = ?', [case_id]
        ).fetchall()
        corrections = con.execute(
            'SELECT "at", officer, old, new, format, whitelist_result FROM plate_corrections'
            " WHERE contravention_id = ?", [case_id]
        ).fetchall()
        gaps = con.execute(
            "SELECT flagged_at, flagged_by, plate, category, note FROM whitelist_gaps WHERE contravention_id = ?",
            [case_id],
        ).fetchall()
        exports = con.execute("SELECT created_at, created_by, id, kind, file_name FROM exports"
                              " WHERE list_contains(cases, ?)", [case_id]).fetchall()
    entries = [
        HistoryEntry(at, officer, {"validate": "validated", "reject": "rejected", "reopen": "reopened"}[action]
                     + (f": {REASONS.get(reason, reason)}" if reason else "") + (f" - {note}" if note else ""))
        for at, officer, action, reason, note in decisions
    ] + [
        HistoryEntry(at, officer, f"plate corrected {old or '(none)'} -> {new} ({fmt}; {result})")
        for at, officer, old, new, fmt, result in corrections
    ] + [
        HistoryEntry(at, officer, f"flagged {plate} ({category}) as missing from the whitelist"
                     + (f" - {note}" if note else ""))
        for at, officer, plate, category, note in gaps
    ] + [
        HistoryEntry(at, officer, f"exported: {kind} export {export_id} ({file_name})")
        for at, officer, export_id, kind, file_name in exports
    ]
    return sorted(entries, key=lambda e: e.at)
