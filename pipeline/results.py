"""Turn a processed footage file into rows: footage_files, lane_passages, contraventions, audit."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import duckdb

from pipeline.plates.types import PlateResult
from pipeline.site import SiteConfig
from pipeline.store import audit, now
from whitelist.matching import load as load_whitelist

if TYPE_CHECKING:
    from pipeline.analysis import FileResult

REVIEW_DAYS = 14  # the council's target for an officer's decision


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
                [result.sha256, str(result.path.resolve())])
    info = result.info
    end = result.start + timedelta(seconds=result.frames / info.fps) if info and result.start else None
    _insert(con, "footage_files", {
        "id": result.sha256, "path": str(result.path.resolve()), "camera_id": site.camera_id,
        "site_sha256": site_sha256, "start_time": result.start, "end_time": end, "timezone": site.timezone,
        "frames": result.frames, "fps": info and info.fps, "width": info and info.width,
        "height": info and info.height, "codec": info and info.codec, "status": result.status,
        "error": result.error, "processed_at": now(), "seconds_taken": result.seconds,
    })
    whitelist = load_whitelist(con)  # the version in force now is recorded with every decision
    added = []
    for p in result.passages:
        pid = passage_id(result.sha256, p.track_id)
        plate = result.plates.get(p.track_id)
        read = plate if plate is not None and plate.status != "unreadable" else None
        check = whitelist.check(read.plate, p.first_seen, site.tz) if read else None
        flagged, reason = p.is_contravention, p.reason
        if flagged and check is not None and check.exempt:
            flagged, reason = False, f"whitelisted: {check.entry_text}"
        listed = check.columns() if check else {"whitelist_version": whitelist.version, "whitelist_entry": None,
                                                "whitelist_near_miss": None}
        plate_columns = _plate_columns(plate)
        row = {
            "id": pid, "footage_id": result.sha256, "camera_id": site.camera_id, "track_id": p.track_id,
            "vehicle_class": p.vehicle_class, "first_seen": p.first_seen, "last_seen": p.last_seen,
            "first_frame": p.first_frame, "last_frame": p.last_frame, "frames_in_lane": p.frames_in_lane,
            "seconds_in_lane": p.seconds_in_lane, "distance_px": p.distance_px, "in_force": p.in_force,
            "is_contravention": flagged, "reason": reason, "box": list(p.box), "track": p.track.to_json(),
            "class_votes": json.dumps(dict(p.class_votes)), "cut_at_start": p.cut_at_start,
            "cut_at_end": p.cut_at_end, "edge_cut": p.edge_cut,
            **listed, **plate_columns,
        }
        _insert(con, "lane_passages", row)
        if flagged:
            cid = contravention_id(site.camera_id, p.first_seen.astimezone(site.tz), result.sha256, p.track_id)
            _insert(con, "contraventions", {
                "id": cid, "passage_id": pid, "camera_id": site.camera_id, "location": site.location,
                "first_seen": p.first_seen, "last_seen": p.last_seen, "timezone": site.timezone,
                "vehicle_class": p.vehicle_class, "footage": str(result.path.resolve()), "footage_id": result.sha256,
                "first_frame": p.first_frame, "last_frame": p.last_frame, "status": "pending",
                "review_deadline": p.first_seen + timedelta(days=REVIEW_DAYS), "created_at": now(),
                "class_votes": row["class_votes"], "edge_cut": p.edge_cut,
                **listed, **{k: plate_columns.get(k) for k in ("plate", "plate_confidence", "plate_status", "plate_format",
                                                      "plate_country", "plate_country_confidence")},
            })
            added.append(cid)
    audit(con, actor, f"batch.file_{result.status}", "footage", result.sha256, path=str(result.path),
          passages=len(result.passages), contraventions=len(added), error=result.error)
    return added


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
