"""Turn a processed footage file into rows: footage_files, lane_passages, contraventions, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import duckdb

from pipeline.site import SiteConfig
from pipeline.store import audit, now
from whitelist.matching import load as load_whitelist

if TYPE_CHECKING:
    from pipeline.analysis import FileResult

REVIEW_DAYS = 14  # the council's target for an officer's decision


def passage_id(footage_sha: str, track_id: int) -> str:
    return f"{footage_sha[:12]}-{track_id}"


def contravention_id(camera_id: str, first_seen_local, track_id: int) -> str:
    """Readable and stable: camera, local date and time, track number."""
    return f"{camera_id}-{first_seen_local:%Y%m%d-%H%M%S}-T{track_id}"


def record_result(con: duckdb.DuckDBPyConnection, result: FileResult, site: SiteConfig,
                  site_sha256: str | None, actor: str) -> list[str]:
    """Write one analysed file; returns the ids of the contraventions it added."""
    # A failed earlier attempt is replaced; a processed file never reaches here (skipped).
    con.execute("DELETE FROM footage_files WHERE id = ? AND status = 'failed'", [result.sha256])
    info = result.info
    end = result.start + timedelta(seconds=result.frames / info.fps) if info and result.start else None
    con.execute(
        """INSERT INTO footage_files (id, path, camera_id, site_sha256, start_time, end_time, timezone, frames, fps,
               width, height, codec, status, error, processed_at, seconds_taken)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [result.sha256, str(result.path.resolve()), site.camera_id, site_sha256, result.start, end, site.timezone,
         result.frames, info and info.fps, info and info.width, info and info.height, info and info.codec,
         result.status, result.error, now(), result.seconds],
    )
    whitelist = load_whitelist(con)  # the version in force now is recorded with every decision
    added = []
    for p in result.passages:
        pid = passage_id(result.sha256, p.track_id)
        con.execute(
            """INSERT INTO lane_passages (id, footage_id, camera_id, track_id, vehicle_class, first_seen, last_seen,
                   first_frame, last_frame, frames_in_lane, seconds_in_lane, distance_px, in_force,
                   is_contravention, reason, box, track, whitelist_version)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [pid, result.sha256, site.camera_id, p.track_id, p.vehicle_class, p.first_seen, p.last_seen,
             p.first_frame, p.last_frame, p.frames_in_lane, p.seconds_in_lane, p.distance_px, p.in_force,
             p.is_contravention, p.reason, list(p.box), p.track.to_json(), whitelist.version],
        )
        if p.is_contravention:
            cid = contravention_id(site.camera_id, p.first_seen.astimezone(site.tz), p.track_id)
            con.execute(
                """INSERT INTO contraventions (id, passage_id, camera_id, location, first_seen, last_seen, timezone,
                       vehicle_class, footage, footage_id, first_frame, last_frame, status, review_deadline, created_at,
                       whitelist_version)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)""",
                [cid, pid, site.camera_id, site.location, p.first_seen, p.last_seen, site.timezone, p.vehicle_class,
                 str(result.path.resolve()), result.sha256, p.first_frame, p.last_frame,
                 p.first_seen + timedelta(days=REVIEW_DAYS), now(), whitelist.version],
            )
            added.append(cid)
    audit(con, actor, f"batch.file_{result.status}", "footage", result.sha256, path=str(result.path),
          passages=len(result.passages), contraventions=len(added), error=result.error)
    return added
