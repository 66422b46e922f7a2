"""Lane rules on the real analysis of the Shenzhen clip, against the labels in tests/labels/."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import av
import cv2
import duckdb
import numpy as np
import pytest

from pipeline.analysis import Analyser
from pipeline.bench.variants import VARIANTS
from pipeline.detection import COCO_CLASSES
from pipeline.footage import open_footage
from pipeline.lane_rules import (
    DECISIVE_MIN_BOXES,
    LaneGeometry,
    RunningVotes,
    class_votes,
    decisive,
    enforcement_window,
    judge,
)
from pipeline.site import Hours, SiteConfig
from pipeline.store import Store
from pipeline.tracks import DUPLICATE_MIN_IOU, Track, box_iou, relink
from review_app.services.queue import QueueFilter, queue_page
from tests.conftest import (
    GENERAL_LANE_SITE,
    LABELS,
    SHENZHEN,
    SHENZHEN_START,
    buslane,
    overlaps,
    sidecar,
)


def rejudge(site, result):
    """Apply (possibly changed) rules to the tracks that entered the lane."""
    geometry = LaneGeometry(site, result.info.width, result.info.height)
    start = SHENZHEN_START.replace(tzinfo=site.tz)
    return [d for p in result.passages if (d := judge(p.track, geometry, site, result.info.fps, start))]


def span(d) -> tuple[int, int]:
    return d.first_frame, d.last_frame


def test_bus_lane_flags_the_riders_and_nothing_else(bus_lane_result):
    flagged = [d for d in bus_lane_result.passages if d.is_contravention]
    labels = LABELS["bus_lane"]["riders_along"]
    assert len(flagged) == len(labels)
    for label in labels:
        match = [d for d in flagged if overlaps(span(d), label)]
        assert len(match) == 1, f"rider {label} not flagged exactly once"
        assert match[0].vehicle_class == "motorcycle"  # a 'person' at vehicle speed is a rider
        assert match[0].distance_px > 0  # away from the camera, the direction of travel
    # The e-bike pair riding towards the camera is in the lane for about a second.
    brief = [d for d in bus_lane_result.passages
             if overlaps(span(d), LABELS["bus_lane"]["brief_wrong_way"][0]) and d.vehicle_class == "motorcycle"]
    assert brief and not any(d.is_contravention for d in brief)


def test_buses_are_passages_never_contraventions(bus_lane_result):
    buses = [d for d in bus_lane_result.passages if d.vehicle_class == "bus"]
    assert any(overlaps(span(b), LABELS["bus_lane"]["buses"][0]) for b in buses)
    assert all(not b.is_contravention and b.reason == "bus: exempt by sight" for b in buses)


def test_nothing_in_the_neighbouring_lane_is_in_the_bus_lane(bus_lane_result, general_lane_result):
    cars_along = [d for d in general_lane_result.passages if d.is_contravention]
    assert cars_along
    for car in cars_along:
        same_time = [d for d in bus_lane_result.passages if overlaps(span(d), span(car))]
        assert all(d.vehicle_class != "car" for d in same_time), f"car {span(car)} seen in the bus lane"
    assert all(d.vehicle_class not in ("car", "truck") for d in bus_lane_result.passages if d.seconds_in_lane > 0.5)


def test_motorcycles_exempt_by_config(bus_lane_site, bus_lane_result):
    site = bus_lane_site.model_copy(update={"exempt_classes": ["bus", "motorcycle"]})
    decisions = rejudge(site, bus_lane_result)
    assert not any(d.is_contravention for d in decisions)
    # A glimpse of a few boxes (a second box on a rider for two frames) is too short a vote to be
    # exempt by sight; it is judged on its time in the lane, and is no contravention either.
    riders = [d for d in decisions if d.vehicle_class == "motorcycle" and d.frames_in_lane >= DECISIVE_MIN_BOXES]
    assert len(riders) >= 2 and all(d.reason == "motorcycle: exempt by sight" for d in riders)


def test_general_lane_cars_driving_along_are_contraventions(general_lane_result):
    flagged = [d for d in general_lane_result.passages if d.is_contravention]
    labels = LABELS["general_lane"]["cars_along"]
    assert len(flagged) == len(labels)
    for label in labels:
        assert sum(overlaps(span(d), label) for d in flagged) == 1, f"car {label}"
    assert {d.vehicle_class for d in flagged} == {"car"}


def flagged(result, label) -> object:
    """The one contravention of `result` overlapping the labelled frame range."""
    (found,) = [d for d in result.passages if d.is_contravention and overlaps(span(d), label)]
    return found


def cut(track: Track, first: int, last: int, shift: int = 0) -> Track:
    """The part of a real track between two frames, renumbered from `shift` frames earlier."""
    keep = (track.frames >= first) & (track.frames <= last)
    return Track(track.track_id, track.frames[keep] - shift, track.xyxy[keep], track.class_id[keep],
                 track.confidence[keep])


def test_brief_entries_into_the_general_lane_are_not_flagged(general_lane_site, general_lane_result):
    # A real car's first second in the lane, with the car seen leaving it then.
    car = flagged(general_lane_result, LABELS["general_lane"]["cars_along"][0]).track
    geometry = LaneGeometry(general_lane_site, general_lane_result.info.width, general_lane_result.info.height)
    start = SHENZHEN_START.replace(tzinfo=general_lane_site.tz)
    brief = judge(cut(car, 0, 170), geometry, general_lane_site, general_lane_result.info.fps, start, 1190)
    assert not brief.is_contravention and not brief.edge_cut
    assert "under the 1.5 s minimum" in brief.reason


def test_hours_that_exclude_the_clip_flag_nothing_and_any_time_flags_the_same(general_lane_site, general_lane_result):
    mornings = general_lane_site.model_copy(update={"hours": Hours(windows={"mon-fri": ["07:00-10:00"]})})
    outside = rejudge(mornings, general_lane_result)
    assert not any(d.is_contravention for d in outside)
    assert any("outside the hours of operation (Fri 12:2" in d.reason for d in outside)
    always = general_lane_site.model_copy(update={"hours": Hours(at_any_time=True)})
    in_hours = {d.track_id for d in general_lane_result.passages if d.is_contravention}
    assert {d.track_id for d in rejudge(always, general_lane_result) if d.is_contravention} == in_hours


def synthetic_track(points: list[tuple[float, float]], cls: int = 2) -> Track:
    """A car box (40x30) whose bottom centre follows `points`, one per frame."""
    p = np.asarray(points, dtype=np.float32)
    xyxy = np.stack([p[:, 0] - 20, p[:, 1] - 30, p[:, 0] + 20, p[:, 1]], axis=1)
    n = len(p)
    return Track(1, np.arange(n), xyxy, np.full(n, cls), np.full(n, 0.9, np.float32))


def test_a_car_cutting_across_the_lane_is_a_passage_not_a_contravention(general_lane_site):
    geometry = LaneGeometry(general_lane_site, 640, 360)
    start = SHENZHEN_START.replace(tzinfo=general_lane_site.tz)
    # Slowly across the lane at y≈250 (3 s in it, queueing traffic): long enough, little progress along it.
    across = synthetic_track([(400 + 1.5 * i, 250 - 0.2 * i) for i in range(100)])
    decision = judge(across, geometry, general_lane_site, 25.0, start)
    assert decision is not None and not decision.is_contravention
    assert "px along the lane, under the minimum of 15% of the lane (49 px)" in decision.reason


def test_exemption_zone_entry_is_not_a_contravention(general_lane_site):
    # The whole lower stretch is an exemption zone (e.g. entering to turn left into premises).
    site = general_lane_site.model_copy(update={"exemption_zones": [[(380, 200), (640, 200), (640, 360), (380, 360)]]})
    geometry = LaneGeometry(site, 640, 360)
    along_low = synthetic_track([(500 - 1.5 * i, 340 - 3 * i) for i in range(40)])  # y 340 → 223
    decision = judge(along_low, geometry, site, 25.0, SHENZHEN_START.replace(tzinfo=site.tz))
    assert decision is not None and not decision.is_contravention
    assert "exemption zone" in decision.reason


@pytest.mark.parametrize(
    "utc, expected",
    [
        # Saturday 24 Oct 2026 is still BST (UTC+1): 06:30 UTC is 07:30 local, inside 07:00-10:00.
        ("2026-10-24T06:30:00", "Sat 07:00-10:00"),
        # BST ends at 01:00 UTC on Sunday 25 Oct; on Monday 26 Oct 06:30 UTC is 06:30 local, outside.
        ("2026-10-26T06:30:00", None),
        ("2026-10-26T07:30:00", "Mon 07:00-10:00"),
        # Sunday: no windows; 25 Dec treated as a Sunday.
        ("2026-10-25T08:00:00", None),
        ("2026-12-25T08:00:00", None),
    ],
)
def test_enforcement_window_across_the_end_of_british_summer_time(utc, expected, general_lane_site):
    hours = Hours(windows={"mon-sat": ["07:00-10:00"]}, treat_as_sunday=["2026-12-25"])
    local = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc).astimezone(general_lane_site.tz)
    assert enforcement_window(hours, local) == expected


def write_clip(path: Path, first: int, last: int, scale: float = 1.0) -> Path:
    """Frames first..last of the Shenzhen clip, re-encoded with H.264 and resized by `scale`."""
    with open_footage(SHENZHEN) as source, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = round(640 * scale), round(360 * scale), "yuv420p"
        for index, bgr in source.frames():
            if index > last:
                break
            if index >= first:
                if scale != 1:
                    bgr = cv2.resize(bgr, (stream.width, stream.height), interpolation=cv2.INTER_AREA)
                out.mux(stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")))
        out.mux(stream.encode())
    return path


def without_plates(site: SiteConfig, **update) -> SiteConfig:
    """The site as given, with plate reading off: the lane verdicts do not depend on it."""
    return site.model_copy(update={"plates": site.plates.model_copy(update={"enabled": False}), **update})


def analyse(site: SiteConfig, clip: Path):
    result = Analyser(site).analyse(clip, clip.stem, SHENZHEN_START)
    assert result.status == "processed", result.error
    return result


@pytest.fixture(scope="module")
def lorry_lane(tmp_path_factory, bus_lane_site):
    """The clip's first 2 s with a lane drawn along the path of the blue box lorry two lanes left of
    the bus lane, detected in the same region as the bus lane (a 4 px margin around a lane drawn up to
    the top of the frame gives the same rectangle): there the detector calls it a bus in most frames,
    with a second, "truck", box on it that the tracker follows as another vehicle. (site, clip)"""
    clip = write_clip(tmp_path_factory.mktemp("lorry") / "lorry.mp4", 0, 49)
    band = [(312, 300), (420, 300), (360, 8), (312, 8)]
    site = without_plates(bus_lane_site, lanes=[bus_lane_site.lanes[0], band],
                          processing=bus_lane_site.processing.model_copy(update={"region_margin_px": 4}))
    return site, clip


@pytest.fixture(scope="module")
def lorry(lorry_lane):
    return analyse(*lorry_lane)


def test_a_lorry_voted_bus_and_truck_is_not_exempt_by_sight(lorry):
    (lorry_passage,) = [d for d in lorry.passages if d.vehicle_class != "motorcycle"]
    votes = dict(lorry_passage.class_votes)
    # About half "bus" and half "truck": which leads depends on the CPU's int8 arithmetic, and either
    # way the officer is asked to look.
    assert votes["bus"] >= 0.3 and votes["truck"] >= 0.3
    assert len(lorry_passage.track.pieces) > 1  # its "bus" and "truck" tracks are re-linked into one
    assert lorry_passage.is_contravention and lorry_passage.vehicle_class == "truck"
    # In the lane from the file's first frame for 1.4 s: flagged, for an officer, only because of the edge.
    assert lorry_passage.reason.startswith("possibly a bus: check; cut by the start of the recording")
    assert lorry_passage.cut_at_start and lorry_passage.edge_cut


def test_a_track_broken_by_an_occlusion_is_relinked_into_one_passage(general_lane_site, general_lane_result):
    car = flagged(general_lane_result, LABELS["general_lane"]["cars_along"][2])
    whole = car.track
    # Hidden for 0.8 s in the middle of its passage (behind a bus, a pole): the tracker gives it a new id.
    before, after = cut(whole, 0, 659), cut(whole, 680, 10**6)
    after = Track(9999, after.frames, after.xyxy, after.class_id, after.confidence)
    others = [d.track for d in general_lane_result.passages if d is not car]
    tracks = relink(others + [before, after], general_lane_result.info.fps)
    assert len(tracks) == len(others) + 1  # nothing else joined
    (joined,) = [t for t in tracks if t.track_id == whole.track_id]
    assert joined.pieces == (whole.track_id, 9999)
    assert np.array_equal(joined.frames, whole.frames[(whole.frames < 660) | (whole.frames >= 680)])
    geometry = LaneGeometry(general_lane_site, general_lane_result.info.width, general_lane_result.info.height)
    start = SHENZHEN_START.replace(tzinfo=general_lane_site.tz)
    decision = judge(joined, geometry, general_lane_site, general_lane_result.info.fps, start, 1190)
    assert span(decision) == span(car) and decision.is_contravention


def test_a_second_nested_box_of_one_vehicle_is_joined_to_it_and_another_class_is_not(general_lane_result):
    """The detector may box one vehicle twice in one class (a rider with and without the scooter:
    NMS keeps boxes under 0.7 IoU), and the tracker follows both: one vehicle, one passage. A box
    of another class inside it (a rider passing in front of a bus) stays a vehicle of its own."""
    car = flagged(general_lane_result, LABELS["general_lane"]["cars_along"][2]).track
    w, h = car.xyxy[:, 2] - car.xyxy[:, 0], car.xyxy[:, 3] - car.xyxy[:, 1]
    # The upper part of the car's box, from a third of its passage on: IoU about 0.72, wholly inside.
    inner = car.xyxy + np.stack([0.04 * w, 0 * h, -0.04 * w, -0.2 * h], axis=1)
    later = np.arange(len(car.frames)) >= len(car.frames) // 3
    nested = Track(9999, car.frames[later], inner[later], car.class_id[later], car.confidence[later])
    assert 0.6 < float(box_iou(car.xyxy[later], nested.xyxy).mean()) < DUPLICATE_MIN_IOU
    others = [d.track for d in general_lane_result.passages if d.track.track_id != car.track_id]
    tracks = relink(others + [car, nested], general_lane_result.info.fps)
    assert len(tracks) == len(others) + 1
    (joined,) = [t for t in tracks if t.track_id == car.track_id]
    assert joined.pieces == (*(car.pieces or (car.track_id,)), 9999) and np.array_equal(joined.frames, car.frames)
    bus_class = np.full(later.sum(), CLASS_IDS["bus"])
    other_class = Track(9999, nested.frames, nested.xyxy, bus_class, nested.confidence)
    assert len(relink(others + [car, other_class], general_lane_result.info.fps)) == len(others) + 2


def test_a_passage_cut_by_the_start_of_the_recording_is_judged_on_what_was_seen(general_lane_site,
                                                                               general_lane_result):
    geometry = LaneGeometry(general_lane_site, 640, 360)
    start = SHENZHEN_START.replace(tzinfo=general_lane_site.tz)
    car = flagged(general_lane_result, LABELS["general_lane"]["cars_along"][0]).track  # in the lane 141-211
    late = cut(car, 180, 10**6, shift=180)  # a file that began at frame 180: 1.3 s of it in the lane
    decision = judge(late, geometry, general_lane_site, 25.0, start, 1190 - 180)
    assert decision.cut_at_start and not decision.cut_at_end
    assert decision.is_contravention and decision.edge_cut
    assert decision.reason.startswith("cut by the start of the recording: in the lane 1.3 s")
    mornings = general_lane_site.model_copy(update={"hours": Hours(windows={"mon-fri": ["07:00-10:00"]})})
    outside = judge(late, geometry, mornings, 25.0, start, 1190 - 180)
    assert not outside.is_contravention and not outside.edge_cut and outside.cut_at_start
    # Standing in the lane through a whole file: cut by both edges, but not short because of them.
    parked = judge(synthetic_track([(470, 250)] * 100), geometry, general_lane_site, 25.0, start, 100)
    assert parked.cut_at_start and parked.cut_at_end and not parked.is_contravention
    assert "moved 0 px along the lane" in parked.reason


@pytest.fixture(scope="module")
def edge_db(tmp_path_factory):
    """Two files through the batch: one ending while a car is 1.2 s into its passage along the
    general lane, one holding another car's whole passage."""
    folder = tmp_path_factory.mktemp("edges")
    site = folder / "general_lane.yaml"
    site.write_text(GENERAL_LANE_SITE.read_text() + "start_time:\n  source: sidecar\n")
    ends = write_clip(folder / "ends_mid_passage.mp4", 100, 171)
    whole = write_clip(folder / "whole_passage.mp4", 500, 610)
    sidecar(ends, "2016-03-18T12:21:29")
    sidecar(whole, "2016-03-18T12:21:45")
    db = folder / "edges.duckdb"
    buslane("process", site, ends, whole, "--db", db, "--no-progress", "--evidence", folder / "evidence")
    return db


def test_a_passage_cut_by_the_end_of_the_file_is_queued_behind_the_others(edge_db):
    with duckdb.connect(str(edge_db), read_only=True) as con:
        rows = con.execute(
            "SELECT c.id, c.edge_cut, p.cut_at_end, p.reason, c.class_votes FROM contraventions c"
            " JOIN lane_passages p ON p.id = c.passage_id ORDER BY c.first_seen"
        ).fetchall()
    assert len(rows) == 2
    (cut_id, edge_cut, cut_at_end, reason, votes), (whole_id, whole_edge_cut, _, whole_reason, _) = rows
    assert edge_cut and cut_at_end and reason.startswith("cut by the end of the recording: in the lane 1.2 s")
    assert not whole_edge_cut and whole_reason.startswith("drove")
    assert max(json.loads(votes).items(), key=lambda kv: kv[1])[0] == "car"
    page = queue_page(Store(edge_db), QueueFilter())
    assert [r.id for r in page.rows] == [whole_id, cut_id]  # although the cut one is due first


@pytest.fixture(scope="module")
def half_size(tmp_path_factory, general_lane_site):
    """The whole clip at 320x180 with the general lane's site drawn at half size."""
    site = VARIANTS["half"].site(without_plates(general_lane_site))
    return site, analyse(site, write_clip(tmp_path_factory.mktemp("half") / "half.mp4", 0, 10**6, scale=0.5))


def test_the_distance_rule_gives_the_same_verdicts_at_half_size(general_lane_site, general_lane_result, half_size):
    site, half = half_size
    labels = LABELS["general_lane"]["cars_along"]
    for result in (general_lane_result, half):
        flagged = [d for d in result.passages if d.is_contravention]
        assert len(flagged) == len(labels) and {d.vehicle_class for d in flagged} == {"car"}
        for label in labels:
            assert sum(overlaps(span(d), label) for d in flagged) == 1, f"car {label} at {result.info.width} px"
    # The same holds for a stricter rule, 60% of the lane (198 px at full size); the same in pixels
    # would clear every car at half size.
    share = site.thresholds.model_copy(update={"min_distance_share": 0.6})
    for s, result in ((general_lane_site, general_lane_result), (site, half)):
        assert sum(d.is_contravention for d in rejudge(s.model_copy(update={"thresholds": share}), result)) == len(labels)
    pixels = share.model_copy(update={"min_distance_px": 0.6 * LaneGeometry(site, 320, 180).lane_length * 2})
    assert not any(d.is_contravention for d in rejudge(site.model_copy(update={"thresholds": pixels}), half))



CLASS_IDS = {name: k for k, name in COCO_CLASSES.items()}


class RecordingReader:
    """Stands in for the plate reader (tested on real plates in test_plates.py): records which vehicle
    boxes the batch asks it to read, frame by frame, and reads nothing."""

    def __init__(self) -> None:
        self.asked: dict[int, np.ndarray] = {}

    def read_vehicles(self, frame_bgr, boxes, frame_index):
        self.asked[frame_index] = np.asarray(boxes).reshape(-1, 4)
        return [[] for _ in range(len(self.asked[frame_index]))]


def frames_asked(reader: RecordingReader, track: Track, cls: str | None = None) -> int:
    """Frames in which the batch asked to read this track's box (of class `cls`: any if None)."""
    rows = np.flatnonzero(track.class_id == CLASS_IDS[cls]) if cls else range(len(track.frames))
    return sum(any(np.abs(box - track.xyxy[i]).max() < 1 for box in reader.asked.get(int(track.frames[i]), ()))
               for i in rows)


def recorded_reads(site: SiteConfig, clip: Path) -> tuple[RecordingReader, list]:
    analyser = Analyser(site)
    analyser.plates = reader = RecordingReader()
    result = analyser.analyse(clip, clip.stem, SHENZHEN_START)
    assert result.status == "processed", result.error
    return reader, result.passages


def test_a_vehicle_only_possibly_a_bus_has_its_plate_read_in_its_bus_frames_too(lorry_lane):
    """A lorry voted "bus" by about half is queued for an officer, who needs its plate."""
    reader, passages = recorded_reads(*lorry_lane)
    (possibly,) = [d for d in passages if d.reason.startswith("possibly a bus")]
    assert frames_asked(reader, possibly.track, "bus") >= 3


def test_a_decisive_bus_has_its_plate_read_only_until_its_vote_is_decisive(bus_lane_site, tmp_path):
    """The yellow bus pulling into the stop (frames 630-790): once its vote is decisive it needs no
    plate, so it is asked for fewer reads than the same bus where buses are not exempt."""
    clip = write_clip(tmp_path / "bus.mp4", 630, 790)
    site = without_plates(bus_lane_site)
    reader, passages = recorded_reads(site, clip)
    (bus,) = [d for d in passages if d.reason == "bus: exempt by sight"]
    # The same run where no class is exempt: the bus is read all along, as any vehicle is. (How many
    # frames that is depends on how the tracker pieced the bus together on this CPU.)
    everyone, passages = recorded_reads(site.model_copy(update={"exempt_classes": []}), clip)
    (same,) = [d for d in passages if overlaps(span(d), span(bus))]
    assert same.vehicle_class == "bus"
    assert 0 < frames_asked(reader, bus.track) < frames_asked(everyone, same.track)


def test_the_running_vote_agrees_with_the_whole_tracks_vote(bus_lane_result):
    """Fed a real track's boxes, the vote the batch keeps as it goes reaches the lane rules' verdict."""
    for passage in bus_lane_result.passages:
        track = passage.track
        if track.duplicates is not None:
            continue  # duplicate boxes join the vote only when the track is relinked, after the file
        votes = RunningVotes()
        votes.add(np.full(len(track.frames), track.track_id), track.class_id, track.xyxy, track.confidence)
        whole = class_votes(track)[0]
        assert votes.decisively(track.track_id, {whole.cls}) == decisive(whole), passage.reason
