"""metadata.json: the facts of the case and everything needed to show how the evidence was made.

>>> meta = build_metadata(case, site, site_path, segment, files, settings, created_at)  # doctest: +SKIP
>>> meta["site_config"]["sha256"] == hashlib.sha256(site_path.read_bytes()).hexdigest()  # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import av
import cv2
import numpy as np

import pipeline
from evidence.case import Case
from evidence.segment import SegmentPlan
from evidence.settings import EvidenceSettings
from pipeline.models import load_manifest, model_hashes, sha256_file
from pipeline.site import SiteConfig

PLATE_MODELS = ("plate_detector", "plate_ocr", "plate_ocr_config")
FORMAT = "buslane-evidence/1"


def build_metadata(case: Case, site: SiteConfig, site_path: Path, segment: SegmentPlan, files: dict[str, dict],
                   settings: EvidenceSettings, created_at: datetime) -> dict:
    """`files` describes each evidence file by name (segment, review copy and stills)."""
    c, p, f = case.contravention, case.passage, case.footage
    site_bytes = site_path.read_bytes()

    def moment(frame: int) -> dict:
        return {"frame": frame, "time": case.time_of(frame).isoformat(timespec="milliseconds")}

    return {
        "format": FORMAT,
        "contravention": {
            "id": case.id,
            "status_when_written": c["status"],
            "vehicle_class": c["vehicle_class"],
            "entered_lane": moment(case.first_frame),
            "left_lane": moment(case.last_frame),
            "review_deadline": c["review_deadline"].isoformat(),
        },
        "camera": {"id": site.camera_id, "location": site.location, "timezone": site.timezone},
        "site_config": {
            "file": site_path.name,
            "sha256": hashlib.sha256(site_bytes).hexdigest(),
            "text": site_bytes.decode(errors="replace"),
            "config": site.model_dump(mode="json"),
        },
        "lane_rules": {
            "thresholds": site.thresholds.model_dump(mode="json"),
            "hours": site.hours.model_dump(mode="json"),
            "exempt_classes": site.exempt_classes,
            "in_force": p["in_force"],
            # How pixels became metres on the road (pipeline/calibration.py); None: not calibrated.
            "calibration": site.calibration.describe() if site.calibration else None,
            "passage": {
                "id": p["id"],
                "track_id": p["track_id"],
                "seconds_in_lane": p["seconds_in_lane"],
                "distance_px": p["distance_px"],
                "distance_m": p.get("distance_m"),  # on a calibrated site (lane_rules.calibration)
                "frames_in_lane": p["frames_in_lane"],
                "reason": p["reason"],
            },
        },
        "source": {
            "path": f["path"],
            "sha256": f["id"],
            "start_time": f["start_time"].astimezone(case.tz).isoformat(),
            "fps": case.fps,
            "frames": f["frames"],
            "width": f["width"],
            "height": f["height"],
            "codec": f["codec"],
        },
        # Every recording the case's frames come from (several when the passage spans segment files,
        # pipeline/segments.py): frame numbers above count from the first one's frame 0, `offset` on.
        "sources": [{"path": r.footage["path"], "sha256": r.footage["id"], "offset": r.offset, "frames": r.frames,
                     "start_time": r.footage["start_time"].astimezone(case.tz).isoformat()} for r in case.recordings],
        "segment": {
            "first": moment(segment.first_frame),
            "last": moment(segment.last_frame),
            "frames": segment.frames,
            # Several files: each original's own source frames are under "files".
            **({"source_packets": [segment.start, segment.stop - 1]} if len(case.recordings) == 1 else {}),
            "pre_seconds": settings.pre_seconds,
            "post_seconds": settings.post_seconds,
        },
        "files": files,
        "track": json.loads(p["track"]),
        "plate": _plate(c, p),
        "models": _models(site, p["plate_status"] is not None),
        "software": {
            "buslane": pipeline.__version__,
            "python": platform.python_version(),
            "pyav": av.__version__,
            "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
            "opencv": cv2.__version__,
            "numpy": np.__version__,
        },
        "settings": asdict(settings),
        "created_at": created_at.isoformat(),
    }


def _plate(c: dict, p: dict) -> dict:
    """The reader's result on the passage, and the plate on the case now (an officer may correct it)."""
    alternatives = p["plate_alternatives"]
    return {
        "read": {
            "plate": p["plate"],
            "confidence": p["plate_confidence"],
            "status": p["plate_status"],
            "format": p["plate_format"],
            "char_confidence": p["plate_char_confidence"],
            "reads": p["plate_reads"],
            "alternatives": json.loads(alternatives) if alternatives else None,
            "frame": p["plate_frame"],
            "box": p["plate_box"],
        },
        "case_plate": c["plate"],
        "case_plate_status": c["plate_status"],
    }


def _models(site: SiteConfig, plates_read: bool) -> dict[str, dict[str, str]]:
    known = load_manifest()
    names = [site.detection.model] + [m for m in PLATE_MODELS if plates_read and m in known]
    return {name: model_hashes(name) if name in known else _path_hashes(Path(name)) for name in names}


def _path_hashes(path: Path) -> dict[str, str]:
    """A model given by path rather than manifest name: the sha256 of its file, or of each file in it."""
    files = sorted(q for q in path.rglob("*") if q.is_file()) if path.is_dir() else [path]
    return {str(q): sha256_file(q.resolve()) for q in files}
