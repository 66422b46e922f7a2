"""Segment files are one recording: a vehicle in the lane across the boundary between two files of
one camera is one passage (issue 13, item 6).

Recorders split a continuous night into files. Each file is analysed on its own (workers never see
two files, and a neighbour may arrive in another night's batch), so the join happens when a file is
recorded, in the same transaction: the camera's processed files whose times abut this one's (the
next starts within `start_time.segment_gap_s` of the previous one's end, in either order of
arrival) are looked up in footage_files, and a passage cut at the end of the earlier file
(`cut_at_end`) is matched with one cut at the start of the later (`cut_at_start`): the first,
carried on at its last velocity across the gap, lands on the second at a similar size (the
re-linking rule of pipeline/tracks.py). The two tracks are joined on one timeline (the first
part's frame numbers, the later file's frames shifted by the time between the two files' starts)
and re-judged by `judge` on every observation, so the joined passage is recorded as one, with its
parts (each file's id and its own frame numbers). A joined passage can be joined again at its far
end, so a vehicle waiting across three files is one passage too.

Nothing recorded is deleted or rewritten: the halves stay, marked superseded_by the joined passage,
and a case made from a half (e.g. one queued as "cut by the end of the recording") is set aside
the same way (status superseded) with an audit row, unless an officer has already decided it: the
decision stands and the joined passage is recorded without a second case.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np

from pipeline.lane_rules import LaneGeometry, judge
from pipeline.results import observations_track, record_passage
from pipeline.site import SiteConfig
from pipeline.store import audit
from pipeline.tracks import MAX_MISS_SIZES, MAX_SIZE_RATIO, VELOCITY_SECONDS, Track, _join
from whitelist.matching import load as load_whitelist

log = logging.getLogger(__name__)

# Besides the gap between the files, a vehicle may go unseen this long at the boundary: the tracker
# confirms a vehicle a frame or two into the new file, and the last boxes of a file may be missed.
EDGE_SLACK_SECONDS = 1.0
PLATE_COLUMNS = ("plate", "plate_confidence", "plate_status", "plate_format", "plate_char_confidence",
                 "plate_reads", "plate_alternatives", "plate_frame", "plate_box", "plate_crop", "plate_country",
                 "plate_country_confidence")
PLATE_RANK = {"read": 2, "low_confidence": 1, "unreadable": 0}


@dataclass(frozen=True)
class Cut:
    """A live (not superseded) passage cut by a file's edge, on the timeline of its first part's file."""

    row: dict  # its lane_passages row
    track: Track
    parts: tuple[dict, ...]

    @classmethod
    def load(cls, row: dict) -> Cut:
        track = observations_track(row["observations"])
        parts = json.loads(row["parts"]) if row["parts"] else [
            {"passage_id": row["id"], "footage_id": row["footage_id"], "track_id": row["track_id"], "offset": 0,
             "first_frame": int(track.frames[0]), "last_frame": int(track.frames[-1])}]
        return cls(row, track, tuple(parts))


def join_at_edges(con: duckdb.DuckDBPyConnection, footage_id: str, site: SiteConfig, actor: str) -> list[str]:
    """Join the passages cut at the boundaries between a just-recorded file and its recorded
    neighbours; returns the ids of the contraventions the joins added."""
    files = _rows(con, "SELECT * FROM footage_files WHERE camera_id = ? AND status = 'processed'"
                       " AND start_time IS NOT NULL ORDER BY start_time", [site.camera_id])
    this = next((f for f in files if f["id"] == footage_id), None)
    if this is None:
        return []
    gap = timedelta(seconds=site.start_time.segment_gap_s)
    added = []
    # The earlier boundary first: a passage joined there may run on across the later one.
    for before in [f for f in files if f["id"] != footage_id and abs(this["start_time"] - f["end_time"]) <= gap
                   and f["start_time"] < this["start_time"]]:
        added += _join_boundary(con, before, this, site, actor)
    for after in [f for f in files if f["id"] != footage_id and abs(f["start_time"] - this["end_time"]) <= gap
                  and f["start_time"] > this["start_time"]]:
        added += _join_boundary(con, this, after, site, actor)
    return added


def _join_boundary(con: duckdb.DuckDBPyConnection, left: dict, right: dict, site: SiteConfig, actor: str) -> list[str]:
    live = [Cut.load(r) for r in _rows(
        con, "SELECT * FROM lane_passages WHERE camera_id = ? AND superseded_by IS NULL AND observations IS NOT NULL"
             " AND (cut_at_end OR cut_at_start) ORDER BY id", [site.camera_id])]
    ends = [c for c in live if c.row["cut_at_end"] and c.parts[-1]["footage_id"] == left["id"]]
    starts = [c for c in live if c.row["cut_at_start"] and c.parts[0]["footage_id"] == right["id"]]
    if not ends or not starts:
        return []
    added = []
    bases = {c.row["footage_id"]: _rows(con, "SELECT * FROM footage_files WHERE id = ?", [c.row["footage_id"]])[0]
             for c in ends}
    for end, start in _pairs(ends, starts, bases, right, site.start_time.segment_gap_s):
        base = bases[end.row["footage_id"]]
        if right["fps"] != base["fps"]:
            log.warning("%s and %s: frame rates differ, the passage across them is not joined", base["path"], right["path"])
            continue
        cid = _record_join(con, end, start, base, _offset(base, right), site, actor)
        if cid:
            added.append(cid)
    return added


def _offset(base: dict, later: dict) -> int:
    """Where the later file's frame 0 falls on the base file's timeline (by their start times)."""
    return round((later["start_time"] - base["start_time"]).total_seconds() * base["fps"])


def _shifted(track: Track | None, offset: int) -> Track | None:
    return None if track is None else replace(track, frames=track.frames + offset,
                                             duplicates=_shifted(track.duplicates, offset))


def _pairs(ends: list[Cut], starts: list[Cut], bases: dict[str, dict], right: dict, gap_s: float) -> list[tuple[Cut, Cut]]:
    """The end and start pieces that are one vehicle, cheapest match first, each used once: the end
    piece carried on at its last velocity lands within MAX_MISS_SIZES box sizes of the start
    piece's first box, at a size within MAX_SIZE_RATIO, no longer than the files' gap plus
    EDGE_SLACK_SECONDS later."""
    candidates = []
    for e in ends:
        base = bases[e.row["footage_id"]]
        fps = base["fps"]
        s_frames = {id(s): s.track.frames + _offset(base, right) for s in starts}
        last, frames = e.track.xyxy[-1], e.track.frames
        back = min(np.searchsorted(frames, frames[-1] - VELOCITY_SECONDS * fps), len(frames) - 1)
        velocity = (_centre(last) - _centre(e.track.xyxy[back])) / max(frames[-1] - frames[back], 1)
        for s in starts:
            gap = s_frames[id(s)][0] - frames[-1]
            if gap > (gap_s + EDGE_SLACK_SECONDS) * fps:
                continue
            first = s.track.xyxy[0]
            miss = np.linalg.norm(_centre(last) + velocity * gap - _centre(first)) / _size(last)
            ratio = _size(first) / _size(last)
            if miss <= MAX_MISS_SIZES and 1 / MAX_SIZE_RATIO <= ratio <= MAX_SIZE_RATIO:
                candidates.append((float(miss), e, s))
    pairs, used = [], set()
    for _, e, s in sorted(candidates, key=lambda c: c[0]):
        if id(e) not in used and id(s) not in used:
            used |= {id(e), id(s)}
            pairs.append((e, s))
    return pairs


def _centre(box: np.ndarray) -> np.ndarray:
    return (box[:2] + box[2:]) / 2


def _size(box: np.ndarray) -> float:
    return float(np.sqrt(np.prod(np.clip(box[2:] - box[:2], 1, None))))


def _record_join(con: duckdb.DuckDBPyConnection, end: Cut, start: Cut, base: dict, offset: int, site: SiteConfig,
                 actor: str) -> str | None:
    """Record the joined passage, supersede its halves and their cases; the new contravention's id, if any."""
    later = _shifted(start.track, offset)
    pieces = [end.track, later] + [t.duplicates for t in (end.track, later) if t.duplicates is not None]
    track = _join(pieces)  # keeps the end piece's track id
    parts = [*end.parts, *({**p, "offset": p["offset"] + offset} for p in start.parts)]
    frames_to = max(p["offset"] + _rows(con, "SELECT frames FROM footage_files WHERE id = ?", [p["footage_id"]])[0]["frames"]
                    for p in parts)
    geometry = LaneGeometry(site, base["width"], base["height"])
    decision = judge(track, geometry, site, base["fps"], base["start_time"], frames_to)
    if decision is None:  # e.g. a slow "person" after all: the halves stand as recorded
        return None
    halves = [end.row["id"], start.row["id"]]
    cases = _rows(con, "SELECT id, status FROM contraventions WHERE passage_id IN ? ORDER BY id", [halves])
    decided = [c for c in cases if c["status"] not in ("pending", "superseded")]
    if decision.is_contravention and decided:
        # An officer's decision on a half stands; a second case for the same vehicle would charge it twice.
        decision = replace(decision, is_contravention=False, reason=f"{decision.reason}; no new case: "
                           + ", ".join(f"{c['id']} ({c['status']})" for c in decided) + " already decided")
    pid = "+".join(p["passage_id"] for p in parts)
    stamp = decision.first_seen.astimezone(site.tz)
    # Like a one-file case's id with each part's file and track: "+" would not survive a link's query string.
    cid = f"{site.camera_id}-{stamp:%Y%m%d-%H%M%S}-" + "-".join(
        f"{p['footage_id'][:8]}-T{p['track_id']}" for p in parts)
    plate = _best_plate([(end.row, 0), (start.row, offset)])
    added = record_passage(con, decision, pid, base["id"], Path(base["path"]), site, load_whitelist(con), plate, cid,
                           parts)
    con.execute("UPDATE lane_passages SET superseded_by = ? WHERE id IN ?", [pid, halves])
    for c in cases:
        if c["status"] == "pending":
            con.execute("UPDATE contraventions SET status = 'superseded', superseded_by = ? WHERE id = ?", [pid, c["id"]])
        else:
            con.execute("UPDATE contraventions SET superseded_by = ? WHERE id = ?", [pid, c["id"]])
        audit(con, actor, "segments.case_superseded", "contravention", c["id"], status=c["status"],
              joined_passage=pid, joined_case=added)
    audit(con, actor, "segments.joined", "passage", pid, made=[added] if added else [], halves=halves,
          parts=parts, contravention=added, reason=decision.reason)
    log.info("passage %s joined across %d files: %s", pid, len({p["footage_id"] for p in parts}), decision.reason)
    return added


def _best_plate(halves: list[tuple[dict, int]]) -> dict:
    """The better half's plate as stored (read over low confidence over unreadable, then confidence),
    its frame moved onto the joined timeline. The reads themselves are not kept, so they cannot be voted again."""
    row, offset = max(halves, key=lambda h: (PLATE_RANK.get(h[0]["plate_status"], -1), h[0]["plate_confidence"] or 0))
    plate = {k: row[k] for k in PLATE_COLUMNS}
    if plate["plate_frame"] is not None:
        plate["plate_frame"] += offset
    return plate if plate["plate_status"] is not None else {}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
