"""Write one contravention's evidence folder and record its hashes; the batch calls this per case.

    root/<camera>/<YYYY-MM-DD>/<id>/
        original.mp4   the source's packets, stream-copied (same container type as the source)
        review.mp4     H.264 with the data bar, lane and vehicle outlined
        overview.png   the vehicle in the lane, with the data bar
        plate.png      plate close-up (or a labelled vehicle close-up when no plate was read)
        metadata.json  manifest.json  SHA256SUMS

The folder is built under a hidden name beside it (.<id>.partial), every file and the folder are
flushed to disk (fsync), then it is renamed into place and the parent folders are flushed, so a
crash or power cut never leaves a half-written case that looks finished. The hashes are recorded
only after the rename: until then the case has no evidence rows, which `report` and `verify --all`
count as missing and `missing_evidence` lists for the next run. Leftovers of a killed run are made
harmless by the next write of the case: a .partial folder is removed, and a .old folder (a rewrite
killed between its two renames) is put back where the store expects it.
The source is only ever opened for reading.

>>> folder = write_case(store, "SZ-BUSLANE-01-20160318-122205-T459", site, Path("sites/sz.yaml"),
...                     Path("var/evidence"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from evidence.case import Case, Source, load_case
from evidence.databar import Stamp, add_bar, bar_height
from evidence.manifest import write_manifest
from evidence.metadata import build_metadata
from evidence.overlays import draw_scene
from evidence.review_copy import ReviewCopy
from evidence.segment import SegmentPlan, cut_segment, plan_segment
from evidence.settings import EvidenceError, EvidenceSettings, case_folder
from evidence.source import PacketIndex, decode_frames, packet_index
from evidence.stills import Still, close_up, overview, write_png
from pipeline.models import sha256_file
from pipeline.site import SiteConfig
from pipeline.store import Store, audit, default_actor, now

log = logging.getLogger(__name__)

REVIEW = "review.mp4"
OVERVIEW = "overview.png"
CLOSEUP = "plate.png"
METADATA = "metadata.json"


def write_case(store: Store, contravention_id: str, site: SiteConfig, site_path: Path, root: Path,
               settings: EvidenceSettings = EvidenceSettings(), *, actor: str | None = None) -> Path:
    """Write (or rewrite) the case's evidence folder under `root` and return its path.

    The seconds taken are logged and stored in evidence_cases.seconds_taken.
    """
    began = time.monotonic()
    case = load_case(store, contravention_id)
    _check_inputs(case, site, site_path)
    cuts = _plan_cuts(case, case.first_frame - round(settings.pre_seconds * case.fps),
                      case.last_frame + round(settings.post_seconds * case.fps))
    # The whole segment in the case's frame numbers (one file's, unless the passage spans segment files).
    plan = SegmentPlan(cuts[0].plan.start, cuts[-1].plan.stop, cuts[0].first, cuts[-1].last)

    final = case_folder(root, case.folder().as_posix(), case.id)
    work = final.parent / f".{case.id}.partial"
    _clear_leftovers(final, work)
    work.mkdir(parents=True)
    try:
        files = {}
        for n, cut in enumerate(cuts, 1):
            # One original per source file, each its own packets byte for byte: original_1.mp4, original_2.mp4, ...
            original = f"original{f'_{n}' if len(cuts) > 1 else ''}{cut.source.path.suffix.lower() or '.mp4'}"
            cut_segment(cut.index, cut.plan, work / original)
            files[original] = {"kind": "original", "first_frame": cut.first, "last_frame": cut.last,
                               "frames": cut.plan.frames, "source": str(cut.source.path),
                               "source_sha256": cut.source.footage["id"],
                               "source_first_frame": cut.plan.first_frame, "source_last_frame": cut.plan.last_frame,
                               "method": "stream copy of the source's video packets, not re-encoded"}
        files |= _render(case, site, cuts, plan, work, settings)
        created_at = now()
        meta = build_metadata(case, site, site_path, plan, files, settings, created_at)
        (work / METADATA).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        kinds = {name: info["kind"] for name, info in files.items()} | {METADATA: "metadata"}
        sources = [{"path": str(c.source.path), "sha256": c.source.footage["id"], "first_frame": c.plan.first_frame,
                    "last_frame": c.plan.last_frame} for c in cuts]
        records = write_manifest(work, kinds, case.id, created_at, sources)
        manifest_sha = next(r.sha256 for r in records if r.kind == "manifest")
        for path in work.iterdir():
            _fsync(path)
        _fsync(work)
        _move_into_place(work, final)
        for folder in (final.parent, *final.parent.parents):  # the renames and any new camera/date folders
            _fsync(folder)
            if folder == root:
                break
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    seconds = time.monotonic() - began
    with store.transaction() as con:
        con.execute(
            "INSERT OR REPLACE INTO evidence_cases (contravention_id, folder, manifest_sha256, files, bytes,"
            " segment_first_frame, segment_last_frame, seconds_taken, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [case.id, case.folder().as_posix(), manifest_sha, len(records), sum(r.bytes for r in records),
             plan.first_frame, plan.last_frame, seconds, created_at, actor or default_actor()],
        )
        con.execute("DELETE FROM evidence_files WHERE contravention_id = ?", [case.id])
        con.executemany(
            "INSERT INTO evidence_files (contravention_id, path, sha256, bytes, kind, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [[case.id, r.path, r.sha256, r.bytes, r.kind, created_at] for r in records],
        )
        audit(con, actor or default_actor(), "evidence.written", "contravention", case.id, ("evidence_cases", case.id),
              folder=case.folder().as_posix(), manifest_sha256=manifest_sha, files=len(records),
              seconds=round(seconds, 3))
    log.info("%s: evidence written to %s in %.2f s", case.id, final, seconds)
    return final


def _check_inputs(case: Case, site: SiteConfig, site_path: Path) -> None:
    """The evidence must describe the recording and the site config the batch actually used."""
    if site.camera_id != case.contravention["camera_id"]:
        raise EvidenceError(f"{case.id}: recorded by camera {case.contravention['camera_id']}, "
                            f"not by {site.camera_id} ({site_path})")
    site_sha = hashlib.sha256(site_path.read_bytes()).hexdigest()
    if case.footage["site_sha256"] not in (None, site_sha):
        raise EvidenceError(f"{case.id}: {site_path} has changed since the batch used it "
                            f"(sha256 {site_sha[:12]}…, batch used {case.footage['site_sha256'][:12]}…)")
    for source in case.recordings:
        try:
            source_sha = sha256_file(source.path.resolve())
        except OSError as e:
            raise EvidenceError(f"{case.id}: cannot read the recording {source.path} ({e.strerror})") from e
        if source_sha != source.footage["id"]:
            raise EvidenceError(f"{case.id}: {source.path} is not the recording the batch processed (sha256 differs)")


@dataclass(frozen=True)
class Cut:
    """The part of one source file in the case's segment."""

    source: Source
    index: PacketIndex
    plan: SegmentPlan  # in the file's own frame numbers

    @property
    def first(self) -> int:  # in the case's frame numbers
        return self.plan.first_frame + self.source.offset

    @property
    def last(self) -> int:
        return self.plan.last_frame + self.source.offset


def _plan_cuts(case: Case, want_first: int, want_last: int) -> list[Cut]:
    """The segment want_first..want_last (case frame numbers) cut from each source file it covers."""
    cuts = []
    for source in case.recordings:
        lo, hi = max(0, want_first - source.offset), min(source.frames - 1, want_last - source.offset)
        if lo > hi:
            continue
        index = packet_index(source.path)
        if index.frames != source.frames:
            raise EvidenceError(f"{case.id}: {source.path} now has {index.frames} frames, "
                                f"the batch counted {source.frames}; frame numbers would not match")
        cuts.append(Cut(source, index, plan_segment(index, lo, hi)))
    if not cuts:
        raise EvidenceError(f"{case.id}: no recording holds frames {want_first} to {want_last}")
    return cuts


def _render(case: Case, site: SiteConfig, cuts: list[Cut], plan: SegmentPlan, work: Path,
            settings: EvidenceSettings) -> dict[str, dict]:
    """Decode the frames once: every segment frame into the review copy (across the source files
    in turn), two of them as stills. The data bar shows each frame's own file time and frame number."""
    first, last = case.first_frame, case.last_frame
    overview_frame = case.track.nearest_frame((first + last) // 2, first, last) or (first + last) // 2
    plate_frame, plate_box = case.passage["plate_frame"], case.passage["plate_box"]
    has_plate = plate_frame is not None and bool(plate_box)
    closeup_frame = plate_frame if has_plate else case.track.largest_frame(plan.first_frame, plan.last_frame)
    stills: dict[str, Still] = {}
    still_sources: dict[str, str] = {}
    height, width = case.footage["height"], case.footage["width"]
    rate = cuts[0].index.rate
    review = ReviewCopy(work / REVIEW, width, height + bar_height(width), rate, settings)
    with review:
        for cut in cuts:
            offset = cut.source.offset
            stills_here = [f - offset for f in (overview_frame, closeup_frame)
                           if 0 <= f - offset < cut.source.frames and (cut is cuts[-1] or f - offset <= cut.plan.last_frame)]
            wanted = [cut.plan.first_frame, cut.plan.last_frame, *stills_here]
            for local, bgr in decode_frames(cut.index, min(wanted), max(wanted)):
                number = local + offset  # the case's frame number
                stamp = Stamp(cut.source.time_of(local, case.tz), site.camera_id, site.location, local)
                vehicle = case.track.at(number)
                if cut.plan.first_frame <= local <= cut.plan.last_frame:
                    review.add(add_bar(draw_scene(bgr.copy(), site, vehicle), stamp))
                if number == overview_frame and OVERVIEW not in stills:
                    stills[OVERVIEW] = overview(bgr, stamp, site, vehicle)
                    still_sources[OVERVIEW] = cut.source.footage["id"]
                if number == closeup_frame and CLOSEUP not in stills:
                    stills[CLOSEUP] = _close_up(case, bgr, stamp, plate_box if has_plate else None)
                    still_sources[CLOSEUP] = cut.source.footage["id"]
    for name, still in stills.items():
        text = still.text | {"Contravention": case.id, "Camera": site.camera_id, "Location": site.location,
                             "Source-sha256": still_sources[name]}
        write_png(work / name, still.image, text)
    review_info = {
        "kind": "review", "codec": "h264", "pix_fmt": "yuv420p", "crf": settings.crf, "preset": settings.preset,
        "width": review.width, "height": review.height, "fps": float(rate), "frames": review.frames,
        "first_frame": plan.first_frame, "last_frame": plan.last_frame,
        "duration_s": round(review.frames / float(rate), 3),
        "overlays": "data bar below the picture; bus lane outlined green, exemption zones blue, vehicle box red "
                    "(orange where held from the nearest frame the detector saw it in)",
    }
    return {REVIEW: review_info} | {name: still.info for name, still in stills.items()}


def _close_up(case: Case, bgr, stamp: Stamp, plate_box: list[float] | None) -> Still:
    if plate_box:
        p = case.passage
        confidence = f"{p['plate_confidence']:.2f}" if p["plate_confidence"] is not None else "n/a"
        detail = f"plate read {p['plate'] or '(none)'}, confidence {confidence}, status {p['plate_status'] or 'n/a'}"
        box = tuple(round(v) for v in plate_box)
        return close_up(bgr, stamp, box, "plate", "PLATE CLOSE-UP", detail)
    vehicle = case.track.at(stamp.frame)
    return close_up(bgr, stamp, vehicle.box, "vehicle", "VEHICLE CLOSE-UP (no plate read)",
                    "the vehicle where its box is largest in the segment; this is not a plate read")


def missing_evidence(store: Store, camera_id: str) -> list[str]:
    """The camera's contraventions with no evidence recorded (e.g. a batch killed while writing it)."""
    return [r["id"] for r in store.query(
        "SELECT id FROM contraventions WHERE camera_id = ?"
        " AND id NOT IN (SELECT contravention_id FROM evidence_cases) ORDER BY id", [camera_id])]


def _old(final: Path) -> Path:
    return final.parent / f".{final.name}.old"


def _clear_leftovers(final: Path, work: Path) -> None:
    """Undo what a killed write left: its .partial folder, and a rewrite's old folder set aside."""
    shutil.rmtree(work, ignore_errors=True)
    old = _old(final)
    if old.is_dir():
        if final.exists():
            shutil.rmtree(old)
        else:  # killed between the two renames of a rewrite: the store still describes the old folder
            old.rename(final)


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(work: Path, final: Path) -> None:
    if final.exists():  # a rewrite: swap the old folder out, then remove it
        old = _old(final)
        final.rename(old)
        work.rename(final)
        shutil.rmtree(old)
    else:
        work.rename(final)
