"""One footage file in, its lane passages out: decode once, detect where it matters, track, judge.

Pure computation (no database), so it runs the same in this process, in a worker process or on a
Ray node; the batch records the returned FileResult.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.detection import (
    ByteTracker,
    Detections,
    LaneRegionDetector,
    RegionLayout,
    VehicleDetector,
    grow,
    load_detector,
    region_of_interest,
)
from pipeline.footage import DecodedFrame, FootageError, VideoInfo, open_footage, resolve_start
from pipeline.lane_rules import LaneGeometry, PassageDecision, RunningVotes, judge
from pipeline.models import resolve_model
from pipeline.motion import STEP, MotionGate
from pipeline.plates.reader import PlateReader
from pipeline.plates.types import PlateRead, PlateResult
from pipeline.plates.voting import vote
from pipeline.site import Processing, SiteConfig
from pipeline.tracks import TrackBuilder, relink


# While the road has been still this long, the decoder skips the frames no other frame needs
# (Processing.idle_skip_decoding); a newcomer is then noticed at most a few frames late.
QUIET_SECONDS_BEFORE_SKIPPING = 1.0
# Batches of frames the detector may work on while the batch before them is tracked
# (Processing.overlap_detection): enough for two inferences side by side.
BATCHES_AHEAD = 2
# An untracked box this confident near the lane switches detection to every frame (ByteTrack's
# default threshold for starting a track).
NEAR_MIN_CONFIDENCE = 0.25
NEAR_HOLD_SECONDS = 0.5  # see Analyser._track


@dataclass(frozen=True)
class FileResult:
    path: Path
    sha256: str | None
    status: str  # processed | failed | skipped
    error: str | None = None
    start: datetime | None = None
    info: VideoInfo | None = None
    frames: int = 0
    frames_detected: int = 0
    passages: tuple[PassageDecision, ...] = ()
    plates: dict[int, PlateResult] = field(default_factory=dict)  # by track id, for every passage
    seconds: float = 0.0

    @property
    def contraventions(self) -> int:
        return sum(p.is_contravention for p in self.passages)


def frame_detector(
    detector: VehicleDetector, proc: Processing, region: tuple[int, int, int, int], info: VideoInfo
) -> tuple[VehicleDetector, int]:
    """What detection runs on, and how many frames go into one model input: the lane's
    surroundings tiled several frames to an input, enlarged on a camera smaller than the model's
    input so that small vehicles are found (Processing.lane_region; see RegionLayout.plan) and
    stretched when flat (Processing.contrast_floor), else whole frames."""
    if not proc.lane_region:
        return detector, 1
    layout = RegionLayout.plan(region, info.width, info.height, detector.imgsz, proc.min_region_scale)
    return LaneRegionDetector(detector, layout, proc.contrast_floor), layout.per_input


class Analyser:
    """Holds the loaded models; `analyse` may be called for many files in turn."""

    def __init__(self, site: SiteConfig, detector: VehicleDetector | None = None, progress: bool = False):
        d = site.detection
        self.site = site
        self.detector = detector or load_detector(resolve_model(d.model), d.confidence, d.imgsz, d.parallel_inferences)
        self.tracker = ByteTracker(d.tracker)
        p = site.plates
        self.plates = PlateReader.from_models(p.detector, p.ocr, p.ocr_config, vehicle_detector=None) if p.enabled else None
        if self.plates is not None:
            # ONNX Runtime's first run costs about 2 s; pay it here, once, not in the first file.
            self.plates.detector.detect(np.zeros((320, 320, 3), np.uint8))
        self.progress = progress

    def analyse(self, path: Path, sha: str, start: datetime | None = None) -> FileResult:
        began = time.monotonic()
        try:
            with open_footage(path) as video:
                when = resolve_start(path, self.site.start_time, self.site.tz, start)
                info = video.info
                geometry = LaneGeometry(self.site, info.width, info.height)
                frames, detected, tracks, reads = self._track(video, geometry)
                if video.truncation_error:
                    # Evidence from a damaged recording would not stand up; the whole file is reported.
                    raise FootageError(f"{path}: {video.truncation_error}")
        except FootageError as e:
            return FileResult(path, sha, "failed", error=str(e), seconds=time.monotonic() - began)
        decisions = sorted(
            (d for t in tracks if (d := judge(t, geometry, self.site, info.fps, when, frames))),
            key=lambda d: d.first_frame,
        )
        # A re-linked track's plate reads are those of all its pieces.
        plates = {d.track_id: vote([r for piece in d.track.pieces or (d.track_id,) for r in reads.get(piece, [])])
                  for d in decisions}
        return FileResult(path, sha, "processed", start=when, info=info, frames=frames, frames_detected=detected,
                          passages=tuple(decisions), plates=plates, seconds=time.monotonic() - began)

    def _track(self, video, geometry: LaneGeometry):
        """Decode, gate, detect, track and read plates: (frames, frames detected, tracks, plate reads)."""
        site, proc, info = self.site, self.site.processing, video.info
        lane_and_zones = geometry.lane | geometry.exempt
        region = region_of_interest([lane_and_zones], proc.region_margin(info.width, info.height))
        detector, per_input = frame_detector(self.detector, proc, region, info)
        gate = None
        if proc.motion_gate:
            watch = np.zeros_like(lane_and_zones)
            x0, y0, x1, y1 = region
            watch[y0:y1, x0:x1] = True
            gate = MotionGate(watch & ~geometry.mask(site.ignore_zones), proc.motion_threshold, proc.motion_min_area_px)
        near_lane = grow(lane_and_zones, proc.near_lane_px)

        self.tracker.start()
        builder = TrackBuilder()
        reads: dict[int, list[PlateRead]] = {}
        last_read: dict[int, int] = {}
        tries: dict[int, int] = {}
        pending: list[DecodedFrame] = []
        # Dense detection goes on for NEAR_HOLD_SECONDS after a vehicle was last near the lane: a car
        # missed for a frame or two in the lane is not then looked at only every idle_stride frames,
        # which at 12-15 fps cut fast cars into pieces too far apart to re-link. A file starts as if
        # a vehicle were near, so one already in the lane at the first frame is tracked from its first
        # frames (what makes it "cut by the start of the recording", and lets it join the previous
        # file's part), not from the first sparse detection that is sure of it.
        hold = round(NEAR_HOLD_SECONDS * info.fps)
        state = {"near": True, "near_until": hold, "detected": 0}

        votes = RunningVotes()

        def read_plates(frame: DecodedFrame, tracked) -> None:
            """Read the plates of vehicles in the lane now: these are the frames evidence will use.
            A vehicle decisively of an exempt class so far (a bus) needs no plate; one that is only
            possibly a bus (the lane rules will queue it for an officer) does. Each vehicle gets a
            bounded number of tries."""
            settings = site.plates
            votes.add(tracked.track_id, tracked.class_id, tracked.xyxy, tracked.confidence)
            in_lane = geometry.lookup(lane_and_zones, tracked.ground_points)
            wanted = [
                i for i in np.flatnonzero(in_lane)
                if not votes.decisively(int(tracked.track_id[i]), site.exempt_classes)
                and frame.index - last_read.get(tracked.track_id[i], -settings.every_k_frames) >= settings.every_k_frames
                and tries.get(tracked.track_id[i], 0) < 2 * settings.max_reads_per_vehicle
                and len(reads.get(tracked.track_id[i], ())) < settings.max_reads_per_vehicle
            ]
            if not wanted:
                return
            found = self.plates.read_vehicles(frame.bgr, tracked.xyxy[wanted], frame.index)
            for i, plate_reads in zip(wanted, found):
                tid = int(tracked.track_id[i])
                last_read[tid] = frame.index
                tries[tid] = tries.get(tid, 0) + 1
                reads.setdefault(tid, []).extend(plate_reads)

        # The detector (which releases the GIL) works on the next batches while this one is tracked,
        # as many at once as it allows. How far it runs ahead is fixed, so results never depend on
        # how many inferences run side by side (the number of workers, the engine).
        in_flight: deque[tuple[list[DecodedFrame], Future]] = deque()
        in_flight_limit = BATCHES_AHEAD if proc.overlap_detection else 0

        def detect(batch: list[DecodedFrame]) -> list[Detections]:
            return detector.detect([f.bgr for f in batch])

        def take(batch: list[DecodedFrame], found: Future) -> None:
            for frame, boxes in zip(batch, found.result()):
                tracked = self.tracker.update(boxes, (info.height, info.width))
                builder.add(frame.index, tracked)
                # Untracked boxes count too: a fast vehicle seen every idle_stride frames moves too far
                # for the tracker to confirm it, so waiting for a track would never switch to dense.
                sure = boxes[boxes.confidence >= NEAR_MIN_CONFIDENCE]
                if geometry.lookup(near_lane, np.concatenate([tracked.ground_points, sure.ground_points])).any():
                    state["near_until"] = frame.index + hold
                state["near"] = frame.index <= state["near_until"]
                if self.plates is not None:
                    read_plates(frame, tracked)
            state["detected"] += len(batch)

        def flush(in_flight_after: int = in_flight_limit) -> None:
            """Send the pending frames to the detector; track the oldest results beyond the limit."""
            if pending:
                batch = pending.copy()
                in_flight.append((batch, detection.submit(detect, batch)))
                pending.clear()
            while len(in_flight) > in_flight_after:
                take(*in_flight.popleft())

        frames, last, last_busy = 0, -proc.idle_stride, 0
        may_skip = gate is not None and proc.idle_skip_decoding and video.has_skippable_frames
        skipping = False
        bar = tqdm(total=info.frames_estimate, desc=video.path.name, unit="frame", file=sys.stderr,
                   disable=not self.progress, leave=False)
        with ThreadPoolExecutor(detector.parallel, thread_name_prefix="detect") as detection:
            for frame in video.decoded():
                bar.update(frame.index + 1 - frames)
                frames = frame.index + 1
                moved = gate.moved(frame.grey(STEP)) if gate else True
                # Densely while a vehicle is near the lane (entries, exits, time in it); sparsely while
                # something moves elsewhere in the region; not at all while nothing moves.
                stride = proc.near_stride if state["near"] else proc.idle_stride
                if (state["near"] or moved) and frame.index - last >= stride:
                    pending.append(frame)
                    last = frame.index
                    if state["near"] and len(pending) >= per_input:
                        flush()
                    elif not state["near"]:
                        # Whether to look densely must not lag behind: wait for this frame's result.
                        flush(0)
                elif not moved and in_flight:
                    flush(0)  # nothing new to look at: catch up with the detector, so "near" is current
                if moved or state["near"] or pending or in_flight:
                    last_busy = frame.index
                quiet = frame.index - last_busy >= QUIET_SECONDS_BEFORE_SKIPPING * info.fps
                if may_skip and quiet != skipping:
                    video.skip_nonref(quiet)
                    skipping = quiet
            flush(0)
        bar.close()
        # One vehicle, one track: join the pieces the tracker lost and found again, and duplicates.
        return frames, state["detected"], relink(builder.tracks(), info.fps), reads
