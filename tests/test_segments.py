"""Segment files are one recording (issue 13, item 6): a real clip cut into two abutting files by
stream copy gives the same contraventions as the whole clip, in one batch or two, in either order,
and the joined case's evidence holds both originals, each byte for byte from its file."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import av
import pytest
import yaml

from evidence.segment import SegmentPlan, cut_segment
from evidence.source import packet_index
from evidence.verify import verify_case
from pipeline.analysis import Analyser, FileResult
from pipeline.batch import Batch, BatchSummary
from pipeline.footage import footage_sha256, open_footage
from pipeline.history import verify_chain
from pipeline.site import load_site
from pipeline.report import morning_report
from pipeline.store import Store
from tests.conftest import BUS_LANE_SITE, LABELS, SHENZHEN, SHENZHEN_START, buslane, overlaps, sidecar

FRAMES = 256  # the clip's first 10 s: the first rider's whole passage
FPS = 25
# The first rider is in the lane from the clip's first frames (tests/labels/shenzhen.yaml) and is
# tracked in it from about frame 3 to 91 (3.6 s). With a minimum of 2.5 s (the example site's 1.5 s
# would pass either half on its own) a cut at frame 48 leaves each file under it: about 1.8 and 1.6 s.
CUT = 48
MIN_SECONDS = 2.5
RIDER = LABELS["bus_lane"]["riders_along"][0]


@dataclass(frozen=True)
class Recording:
    folder: Path
    whole: Path
    first: Path
    second: Path


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Recording:
    """The clip's first 256 frames, and the same frames as two abutting files cut by stream copy at frame 64."""
    assert RIDER[0] < CUT < RIDER[1]
    folder = tmp_path_factory.mktemp("segments")
    whole, first, second = folder / "whole.mp4", folder / "first.mp4", folder / "second.mp4"
    # The recorder's own keyframes (every 128 frames) fall outside the riders' passages: re-encode with
    # one every 64 frames (closed GOPs, as recorders that split files write), then cut at one.
    with open_footage(SHENZHEN) as source, av.open(str(whole), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"x264-params": f"keyint={CUT}:min-keyint={CUT}:scenecut=0",
                                                              "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for index, bgr in source.frames():
            if index == FRAMES:
                break
            out.mux(stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")))
        out.mux(stream.encode())
    index = packet_index(whole)
    cut = index.position(CUT)
    assert index.keyframe[cut] and sorted(index.frame[:cut]) == list(range(CUT)), "a clean cut at a keyframe"
    cut_segment(index, SegmentPlan(0, cut, 0, CUT - 1), first)
    cut_segment(index, SegmentPlan(cut, index.frames, CUT, FRAMES - 1), second)
    for path, frame in ((whole, 0), (first, 0), (second, CUT)):
        sidecar(path, (SHENZHEN_START + timedelta(seconds=frame / FPS)).isoformat())
    return Recording(folder, whole, first, second)


@pytest.fixture(scope="module")
def site_file(tmp_path_factory, bus_lane_site) -> Path:
    """The example bus-lane site with a minimum time of MIN_SECONDS, as a file the batch reads."""
    site = bus_lane_site.model_copy(update={"thresholds": bus_lane_site.thresholds.model_copy(
        update={"min_seconds_in_lane": MIN_SECONDS})})
    path = tmp_path_factory.mktemp("site") / "bus_lane.yaml"
    path.write_text(yaml.safe_dump(site.model_dump(mode="json", exclude_defaults=True), sort_keys=False))
    assert load_site(path) == site
    return path


@pytest.fixture(scope="module")
def analysed(recording, site_file) -> dict[str, FileResult]:
    """Each file analysed once, as a worker would (the batches below record these results)."""
    analyser = Analyser(load_site(site_file))
    results = {}
    for name in ("whole", "first", "second"):
        path = getattr(recording, name)
        results[name] = analyser.analyse(path, footage_sha256(path))
        assert results[name].status == "processed", results[name].error
    return results


def record(db: Path, batches: list[list[FileResult]], site: Path) -> Store:
    """Record analysed files as the batch does, one Batch per inner list, and write their evidence."""
    store = Store(db)
    for results in batches:
        batch = Batch.from_files(site, db, evidence_root=db.parent / "evidence", progress=False)
        summary = BatchSummary()
        for result in results:
            batch._finish(result, summary)
        assert not summary.evidence_failures, summary.evidence_failures
    return store


def cases(store: Store, recording: Recording) -> list[tuple[str, int, int]]:
    """The live contraventions as (class, first frame, last frame) on the whole clip's timeline."""
    offsets = {footage_sha256(recording.first): 0, footage_sha256(recording.second): CUT,
               footage_sha256(recording.whole): 0}
    rows = store.query("SELECT vehicle_class, footage_id, first_frame, last_frame FROM contraventions"
                       " WHERE status <> 'superseded' ORDER BY first_frame")
    return [(r["vehicle_class"], r["first_frame"] + offsets[r["footage_id"]], r["last_frame"] + offsets[r["footage_id"]])
            for r in rows]


def same_contraventions(whole: list, split: list) -> bool:
    """One for one, same class, frame ranges overlapping by at least half the shorter (the lane benchmark's match)."""
    def match(a, b) -> bool:
        shorter = min(a[2] - a[1], b[2] - b[1]) + 1
        return a[0] == b[0] and min(a[2], b[2]) - max(a[1], b[1]) + 1 >= shorter / 2
    return len(whole) == len(split) and all(match(a, b) for a, b in zip(whole, split))


@pytest.fixture(scope="module")
def whole_cases(analysed, recording, site_file, tmp_path_factory) -> list:
    found = cases(record(tmp_path_factory.mktemp("whole") / "b.duckdb", [[analysed["whole"]]], site_file), recording)
    assert [c for c in found if overlaps(c[1:], RIDER)], "the whole clip flags the rider"
    return found


def test_each_file_alone_loses_or_shortens_the_rider(analysed):
    """Why joining matters: the rider falls under the minimum in each file, so each half is at most
    queued as cut by the recording's edge, behind the other cases."""
    end = [p for p in analysed["first"].passages if p.cut_at_end]
    start = [p for p in analysed["second"].passages if p.cut_at_start]
    assert len(end) == len(start) == 1
    assert end[0].seconds_in_lane < MIN_SECONDS and start[0].seconds_in_lane < MIN_SECONDS
    assert all(p.edge_cut or not p.is_contravention for p in end + start)


@pytest.mark.parametrize("order", [
    pytest.param([["first", "second"]], id="one batch"),
    pytest.param([["second", "first"]], id="one batch, reverse order"),
    pytest.param([["first"], ["second"]], id="two batches"),
    pytest.param([["second"], ["first"]], id="two batches, reverse order"),
])
def test_two_abutting_files_give_the_whole_clips_contraventions(analysed, recording, whole_cases, order, site_file,
                                                               tmp_path):
    store = record(tmp_path / "b.duckdb", [[analysed[name] for name in batch] for batch in order], site_file)
    assert same_contraventions(whole_cases, cases(store, recording)), (whole_cases, cases(store, recording))
    joined = store.query("SELECT * FROM lane_passages WHERE parts IS NOT NULL")
    assert len(joined) == 1
    passage = joined[0]
    assert passage["first_frame"] < CUT <= passage["last_frame"] and passage["is_contravention"]
    assert passage["seconds_in_lane"] >= MIN_SECONDS and not passage["edge_cut"]
    # Every frame keeps its own file and frame number.
    parts = json.loads(passage["parts"])
    assert [(p["footage_id"], p["offset"]) for p in parts] == [
        (footage_sha256(recording.first), 0), (footage_sha256(recording.second), CUT)]
    assert parts[0]["last_frame"] <= CUT - 1 and parts[1]["first_frame"] >= 0
    # The halves are kept, pointing to the joined passage; the half queued as cut by the end is set aside.
    halves = store.query("SELECT id, superseded_by FROM lane_passages WHERE parts IS NULL ORDER BY id")
    assert {h["superseded_by"] for h in halves if h["id"] in {p["passage_id"] for p in parts}} == {passage["id"]}
    half_cases = store.query("SELECT id, status, superseded_by FROM contraventions WHERE passage_id IN ?",
                             [[p["passage_id"] for p in parts]])
    assert half_cases and all(c["status"] == "superseded" and c["superseded_by"] == passage["id"] for c in half_cases)
    audited = store.query("SELECT entity_id FROM audit_log WHERE action = 'segments.case_superseded'")
    assert {a["entity_id"] for a in audited} == {c["id"] for c in half_cases}
    with store.connect() as con:  # the joined case and the superseded halves are what the history says
        check = verify_chain(con)
    assert check.ok, check.lines()
    # The morning report counts the vehicle once.
    assert sum(r.passages for r in morning_report(store)) == len(analysed["whole"].passages)


def test_a_cut_with_no_neighbour_is_judged_on_what_was_seen(analysed, site_file, tmp_path):
    """The first file alone, and with the second starting 10 s after it ends: nothing to join."""
    late = replace(analysed["second"], start=analysed["second"].start + timedelta(seconds=10))
    for batches in ([[analysed["first"]]], [[analysed["first"], late]]):
        store = record(tmp_path / f"b{len(batches[0])}.duckdb", batches, site_file)
        assert not store.query("SELECT 1 FROM lane_passages WHERE parts IS NOT NULL OR superseded_by IS NOT NULL")
        cut = store.query("SELECT * FROM contraventions WHERE edge_cut AND footage_id = ?", [analysed["first"].sha256])
        assert len(cut) == 1 and cut[0]["status"] == "pending"
        reason = store.query("SELECT reason FROM lane_passages WHERE id = ?", [cut[0]["passage_id"]])[0]["reason"]
        # In the lane from the clip's first frames to the file's last.
        assert reason.startswith("cut by the start and the end of the recording")


def test_an_officers_decision_on_a_half_stands(analysed, site_file, tmp_path):
    store = record(tmp_path / "b.duckdb", [[analysed["first"]]], site_file)
    with store.transaction() as con:
        con.execute("UPDATE contraventions SET status = 'rejected'")
    record(tmp_path / "b.duckdb", [[analysed["second"]]], site_file)
    # The second half's own case (queued as cut by the start) is set aside by the join.
    assert sorted(r["status"] for r in store.query("SELECT status FROM contraventions")) == ["rejected", "superseded"]
    joined = store.query("SELECT is_contravention, reason FROM lane_passages WHERE parts IS NOT NULL")
    assert len(joined) == 1 and not joined[0]["is_contravention"] and "already decided" in joined[0]["reason"]


def packets(path: Path) -> list[bytes]:
    """Packet payloads in presentation order (frame number = rank of the packet's pts)."""
    with av.open(str(path)) as container:
        return [data for _, data in sorted((p.pts, bytes(p)) for p in container.demux(video=0) if p.size)]


def test_two_batches_from_the_command_line_join_and_the_evidence_holds_both_originals(recording, whole_cases,
                                                                                         tmp_path):
    """End to end, later file first: `buslane process` on each file in its own batch."""
    db, evidence = tmp_path / "night.duckdb", tmp_path / "evidence"
    for path in (recording.second, recording.first):
        buslane("process", BUS_LANE_SITE, path, "--db", db, "--no-progress", "--evidence", evidence)
    store = Store(db)
    assert same_contraventions(whole_cases, cases(store, recording))
    case = store.query("SELECT c.id FROM contraventions c JOIN lane_passages p ON p.id = c.passage_id"
                       " WHERE p.parts IS NOT NULL")[0]["id"]
    assert verify_case(store, case, evidence).ok
    folder = evidence / store.query("SELECT folder FROM evidence_cases WHERE contravention_id = ?", [case])[0]["folder"]
    meta = json.loads((folder / "metadata.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    sources = {str(recording.first.resolve()): recording.first, str(recording.second.resolve()): recording.second}
    assert [s["sha256"] for s in manifest["sources"]] == [footage_sha256(recording.first), footage_sha256(recording.second)]
    originals = {name: info for name, info in meta["files"].items() if info["kind"] == "original"}
    assert sorted(originals) == ["original_1.mp4", "original_2.mp4"]
    for name, info in originals.items():
        source = sources[info["source"]]
        assert packets(folder / name) == packets(source)[info["source_first_frame"]:info["source_last_frame"] + 1]
    # One review copy across both files, every frame of both originals in it.
    assert meta["files"]["review.mp4"]["frames"] == sum(o["frames"] for o in originals.values())
    with av.open(str(folder / "review.mp4")) as review:
        assert sum(1 for _ in review.decode(video=0)) == meta["files"]["review.mp4"]["frames"]
