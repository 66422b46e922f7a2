"""Turn a processed footage file into rows: footage_files, lane_passages, contraventions, audit."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from pipeline.deadlines import REVIEW_DAYS
from pipeline.lane_rules import PassageDecision
from pipeline.plates.types import PlateResult
from pipeline.report import printable
from pipeline.site import SiteConfig
from pipeline.store import audit, now
from pipeline.tracks import Track
from whitelist.matching import Whitelist, load as load_whitelist

if TYPE_CHECKING:
    from pipeline.analysis import FileResult


def passage_id(footage_sha: str, track_id: int) -> str:
    return f"{footage_sha[:12]}-{track_id}"


def contravention_id(camera_id: str, first_seen_local, footage_sha: str, track_id: int) -> str:
    """Readable and stable: camera, local date and time, the footage file (two files may be given the
    same start time, and track numbers restart in each file), track number."""
    return f"{camera_id}-{first_seen_local:%Y%m%d-%H%M%S}-{footage_sha[:8]}-T{track_id}"


def record_result(con: duckdb.DuckDBPyConnection, result: FileResult, site: SiteConfig,
                  site_sha256: str | None, actor: str) -> list[str]:
    """Write one analysed file; returns the ids of the contraventions it added."""
    # A failed earlier attempt (same bytes, or same path: a file that was missing then) is replaced;
    # a processed file never reaches here (skipped).
    con.execute("DELETE FROM footage_files WHERE status = 'failed' AND (id = ? OR path = ?)",
                [result.sha256, stored_path(result.path)])
    error = result.error and printable(result.error)  # one line, whatever the file's name holds
    info = result.info
    end = result.start + timedelta(seconds=result.frames / info.fps) if info and result.start else None
    _insert(con, "footage_files", {
        "id": result.sha256, "path": stored_path(result.path), "camera_id": site.camera_id,
        "site_sha256": site_sha256, "start_time": result.start, "end_time": end, "timezone": site.timezone,
        "frames": result.frames, "fps": info and info.fps, "width": info and info.width,
        "height": info and info.height, "codec": info and info.codec, "status": result.status,
        "error": error, "processed_at": now(), "seconds_taken": result.seconds,
    })
    whitelist = load_whitelist(con)  # the version in force now is recorded with every decision
    added = []
    for p in result.passages:
        cid = record_passage(con, p, passage_id(result.sha256, p.track_id), result.sha256, result.path, site,
                             whitelist, _plate_columns(result.plates.get(p.track_id)),
                             contravention_id(site.camera_id, p.first_seen.astimezone(site.tz), result.sha256,
                                              p.track_id))
        if cid:
            added.append(cid)
    audit(con, actor, f"batch.file_{result.status}", "footage", result.sha256, made=added, path=_storable(str(result.path)),
          passages=len(result.passages), contraventions=len(added), error=error)
    return added


def record_passage(con: duckdb.DuckDBPyConnection, p: PassageDecision, pid: str, footage_id: str, footage: Path,
                   site: SiteConfig, whitelist: Whitelist, plate_columns: dict, cid: str,
                   parts: list[dict] | None = None) -> str | None:
    """Write one lane passage, and its contravention when flagged (returns its id). `footage` is the
    file whose frame numbers the passage's count from (a joined passage's first part, see
    pipeline/segments.py), `plate_columns` its plate as stored (`_plate_columns`)."""
    plate, status = plate_columns.get("plate"), plate_columns.get("plate_status")
    check = whitelist.check(plate, p.first_seen, site.tz) if plate and status != "unreadable" else None
    flagged, reason = p.is_contravention, p.reason
    if flagged and check is not None and check.exempt:
        flagged, reason = False, f"whitelisted: {check.entry_text}"
    listed = check.columns() if check else {"whitelist_version": whitelist.version, "whitelist_entry": None,
                                            "whitelist_near_miss": None}
    cut = p.cut_at_start or p.cut_at_end
    row = {
        "id": pid, "footage_id": footage_id, "camera_id": site.camera_id, "track_id": p.track_id,
        "vehicle_class": p.vehicle_class, "first_seen": p.first_seen, "last_seen": p.last_seen,
        "first_frame": p.first_frame, "last_frame": p.last_frame, "frames_in_lane": p.frames_in_lane,
        "seconds_in_lane": p.seconds_in_lane, "distance_px": p.distance_px, "distance_m": p.distance_m,
        "in_force": p.in_force,
        "is_contravention": flagged, "reason": reason, "box": list(p.box), "track": p.track.to_json(),
        "class_votes": json.dumps(dict(p.class_votes)), "cut_at_start": p.cut_at_start,
        "cut_at_end": p.cut_at_end, "edge_cut": p.edge_cut,
        # A neighbouring file may complete a cut passage: keep what re-judging it needs.
        "observations": observations_json(p.track) if cut else None,
        "parts": json.dumps(parts) if parts else None,
        **listed, **plate_columns,
    }
    _insert(con, "lane_passages", row)
    if not flagged:
        return None
    _insert(con, "contraventions", {
        "id": cid, "passage_id": pid, "camera_id": site.camera_id, "location": site.location,
        "first_seen": p.first_seen, "last_seen": p.last_seen, "timezone": site.timezone,
        "vehicle_class": p.vehicle_class, "footage": stored_path(footage), "footage_id": footage_id,
        "first_frame": p.first_frame, "last_frame": p.last_frame, "status": "pending",
        "review_deadline": p.first_seen + timedelta(days=REVIEW_DAYS), "created_at": now(),
        "class_votes": row["class_votes"], "edge_cut": p.edge_cut,
        **listed, **{k: plate_columns.get(k) for k in ("plate", "plate_confidence", "plate_status", "plate_format",
                                                      "plate_country", "plate_country_confidence")},
    })
    return cid


def stored_path(path: Path) -> str:
    """The absolute path a file is recorded under, symbolic links resolved. Never raises: recording
    a failure must not fail again (a link loop is kept as given, where Path.resolve raises)."""
    return _storable(os.path.realpath(path))


def _storable(name: str) -> str:
    """A file name as the database takes it: a byte that is not UTF-8 is written \\xff."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def observations_json(track: Track) -> str:
    """A track with everything `judge` reads: frames, boxes, classes, confidences, and its duplicate boxes."""
    def plain(t: Track) -> dict:
        return {"track_id": t.track_id, "frames": t.frames.tolist(), "xyxy": t.xyxy.tolist(),
                "class_id": t.class_id.tolist(), "confidence": t.confidence.tolist()}
    return json.dumps(plain(track) | {"duplicates": plain(track.duplicates) if track.duplicates is not None else None})


def observations_track(text: str) -> Track:
    data = json.loads(text)

    def track(d: dict, duplicates: Track | None = None) -> Track:
        return Track(d["track_id"], np.asarray(d["frames"], np.int64), np.asarray(d["xyxy"], np.float64).reshape(-1, 4),
                     np.asarray(d["class_id"], np.int64), np.asarray(d["confidence"], np.float64), duplicates=duplicates)
    return track(data, track(data["duplicates"]) if data["duplicates"] else None)


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict) -> None:
    columns = ", ".join(row)
    con.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


def _plate_columns(plate: PlateResult | None) -> dict:
    """The voted plate as stored on a passage; the best read's frame and crop are the evidence's."""
    if plate is None:  # plate reading is switched off for this site
        return {}
    best = plate.best
    return {
        "plate": plate.plate or None,
        "plate_confidence": plate.confidence if plate.plate else None,
        "plate_status": plate.status,
        "plate_format": plate.format if plate.plate else None,
        "plate_char_confidence": list(plate.char_confidence) or None,
        "plate_reads": plate.reads,
        "plate_alternatives": json.dumps([{"text": a.text, "reads": a.reads, "score": a.score}
                                          for a in plate.alternatives]),
        "plate_frame": best.frame_index if best else None,
        "plate_box": list(best.box) if best else None,
        "plate_crop": plate.best_crop_png,
        "plate_country": plate.country,  # None from an OCR without a region head
        "plate_country_confidence": plate.country_confidence,
    }
