"""Read-side views for the command line: the contraventions list and the morning report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.accuracy import accuracy, rejection_jumps
from pipeline.store import Store

MIN_LEGAL_FPS = 5.0  # enforcement cameras must record at least 5 frames per second
GAP_TOLERANCE = timedelta(seconds=2)

CONTRAVENTION_COLUMNS = (
    "id", "camera_id", "first_seen", "last_seen", "vehicle_class", "footage", "first_frame",
    "last_frame", "status", "review_deadline", "plate", "plate_confidence", "plate_status",
)


def printable(text: str) -> str:
    """`text` on one line: a control character (a newline in a file name, an escape sequence) is
    written as a Python string literal writes it (\\n, \\x1b), so one file is always one line, and a
    byte of a name that is not UTF-8 as that byte (\\xff). Backslashes stay as they are: messages
    quote site patterns that hold them."""
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(c: str) -> str:
    if "\udc80" <= c <= "\udcff":  # how Python decodes a byte of a file name that is not UTF-8
        return f"\\x{ord(c) - 0xdc00:02x}"
    return repr(c)[1:-1]


def local_iso(value: datetime | None, tz: str) -> str | None:
    """ISO 8601 with the camera's UTC offset, e.g. 2016-03-18T12:21:27+00:00."""
    return value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds") if value else None


def contraventions(store: Store, status: str | None = None) -> list[dict]:
    rows = store.query(
        "SELECT * FROM contraventions WHERE ? IS NULL OR status = ? ORDER BY review_deadline, id", [status, status]
    )
    out = []
    for row in rows:
        tz = row["timezone"]
        for key in ("first_seen", "last_seen", "review_deadline"):
            row[key] = local_iso(row[key], tz)
        out.append({k: row[k] for k in CONTRAVENTION_COLUMNS})
    return out


@dataclass
class CameraReport:
    camera_id: str
    files: int = 0
    hours_covered: float = 0.0
    gaps: list[str] = field(default_factory=list)
    low_fps: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    missing_evidence: list[str] = field(default_factory=list)  # contravention ids with no evidence recorded
    rejections_up: list[str] = field(default_factory=list)  # officers' rejections jumped (pipeline.accuracy)
    passages: int = 0
    contraventions: int = 0

    @property
    def faulty(self) -> bool:
        return bool(self.failures or self.low_fps or self.missing_evidence or self.rejections_up)

    def lines(self) -> list[str]:
        out = [
            f"camera {self.camera_id}: {'CHECK CAMERA' if self.faulty else 'ok'}",
            f"  footage: {self.files} files, {self.hours_covered:.2f} h covered",
            f"  lane passages: {self.passages}, contraventions: {self.contraventions}",
        ]
        out += [f"  gap: {g}" for g in self.gaps]
        out += [f"  LOW FRAME RATE: {f}" for f in self.low_fps]
        out += [f"  FAILED: {f}" for f in self.failures]
        out += [f"  EVIDENCE MISSING: {c} (re-run the batch, or `buslane evidence write --missing`)"
                for c in self.missing_evidence]
        out += [f"  {j}" for j in self.rejections_up]
        return [printable(line) for line in out]  # file names come from whoever named the files


def morning_report(store: Store) -> list[CameraReport]:
    """Per camera: coverage and gaps, frame rate, failed files, passages, contraventions, any without evidence,
    and a jump in the officers' rejections."""
    reports: dict[str, CameraReport] = {}
    files = store.query("SELECT * FROM footage_files ORDER BY camera_id, start_time NULLS LAST, path")
    for f in files:
        r = reports.setdefault(f["camera_id"], CameraReport(f["camera_id"]))
        if f["status"] == "failed":
            r.failures.append(f["error"])  # one line that names the file as the batch was given it
            continue
        r.files += 1
        r.hours_covered += (f["end_time"] - f["start_time"]).total_seconds() / 3600
        if f["fps"] is not None and f["fps"] < MIN_LEGAL_FPS:
            r.low_fps.append(f"{f['path']}: {f['fps']:.1f} frames/s, under the legal minimum of {MIN_LEGAL_FPS:g}")
    for camera, r in reports.items():
        spans = [f for f in files if f["camera_id"] == camera and f["status"] == "processed"]
        for a, b in zip(spans, spans[1:]):
            if b["start_time"] - a["end_time"] > GAP_TOLERANCE:
                r.gaps.append(f"{local_iso(a['end_time'], a['timezone'])} to {local_iso(b['start_time'], b['timezone'])}")
    counts = store.query(
        """SELECT camera_id, count(*) AS passages, count(*) FILTER (WHERE is_contravention) AS contraventions
           FROM lane_passages WHERE superseded_by IS NULL GROUP BY camera_id"""  # a joined passage's halves are not counted
    )
    for c in counts:
        r = reports.setdefault(c["camera_id"], CameraReport(c["camera_id"]))
        r.passages, r.contraventions = c["passages"], c["contraventions"]
    # evidence_cases belongs to the evidence component; its migration runs whenever a Store opens.
    unwritten = store.query("SELECT camera_id, id FROM contraventions"
                            " WHERE id NOT IN (SELECT contravention_id FROM evidence_cases) ORDER BY camera_id, id")
    for u in unwritten:
        reports.setdefault(u["camera_id"], CameraReport(u["camera_id"])).missing_evidence.append(u["id"])
    for jump in rejection_jumps(accuracy(store)):
        reports.setdefault(jump.camera_id, CameraReport(jump.camera_id)).rejections_up.append(jump.text())
    return list(reports.values())
