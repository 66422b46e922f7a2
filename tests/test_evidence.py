"""Evidence folders from the real batch's real contraventions on the real Shenzhen clip.

Each case is written once (module fixture) into a copy of the night's database; tests that damage
or delete evidence work on copies of the folder and the database.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import duckdb
import numpy as np
import pytest

import pipeline
from evidence.databar import Stamp, add_bar, bar_height, read_frame_code
from evidence.overlays import draw_scene
from evidence.retention import RetentionRules, apply_retention
from evidence.settings import move_root
from evidence.stills import read_png_text
from evidence.track import Observation
from evidence.writer import write_case
from pipeline.footage import open_footage
from pipeline.models import model_hashes
from pipeline.site import load_site
from pipeline.store import Store
from tests.conftest import BUS_LANE_SITE, CLI_OFFICER, SHENZHEN, buslane

FPS = 25
PRE = POST = 3 * FPS


@dataclass(frozen=True)
class Written:
    db: Path
    root: Path
    folders: dict[str, Path]  # contravention id -> case folder
    seconds: dict[str, float]

    def rows(self, sql: str, params: list | None = None, db: Path | None = None) -> list[tuple]:
        with duckdb.connect(str(db or self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def written(night, tmp_path_factory) -> Written:
    base = tmp_path_factory.mktemp("evidence")
    db = base / "cases.duckdb"
    shutil.copy(night["db"], db)  # the session's database stays as the batch left it
    store = Store(db)
    site = load_site(BUS_LANE_SITE)
    root = base / "root"
    root.mkdir()
    move_root(store, root)  # this copy's evidence lives here, not where the batch wrote the night's
    ids = [r["id"] for r in store.query("SELECT id FROM contraventions ORDER BY first_seen")]
    assert len(ids) >= 2, f"the night's batch recorded {len(ids)} contraventions; these tests need the clip's two riders"
    folders = {cid: write_case(store, cid, site, BUS_LANE_SITE, root) for cid in ids}
    seconds = {r["contravention_id"]: r["seconds_taken"] for r in store.query("SELECT * FROM evidence_cases")}
    return Written(db, root, folders, seconds)


def metadata(folder: Path) -> dict:
    return json.loads((folder / "metadata.json").read_text())


def packets_by_frame(path: Path) -> list[bytes]:
    """Packet payloads in presentation order (frame number = rank of the packet's pts)."""
    with av.open(str(path)) as container:
        packets = [(p.pts, bytes(p)) for p in container.demux(video=0) if p.size]
    return [data for _, data in sorted(packets)]


@pytest.fixture(scope="module")
def source_frames(written) -> dict[int, np.ndarray]:
    """The frames each still names, and their neighbours, decoded the batch's way (one full pass)."""
    wanted = set()
    for folder in written.folders.values():
        for still in ("overview.png", "plate.png"):
            n = int(read_png_text(folder / still)["Frame"])
            wanted |= {n - 1, n, n + 1}
    with open_footage(SHENZHEN) as video:
        return {i: bgr for i, bgr in video.frames() if i in wanted}


def test_folders_are_laid_out_by_camera_date_and_id(written):
    for cid, folder in written.folders.items():
        assert folder == written.root / "SZ-BUSLANE-01" / "2016-03-18" / cid
        assert sorted(p.name for p in folder.iterdir()) == [
            "SHA256SUMS", "manifest.json", "metadata.json", "original.mp4", "overview.png", "plate.png", "review.mp4"]
    assert not list(written.root.rglob(".*")), "no partial folders left behind"


def test_original_segment_is_the_sources_packets_byte_for_byte(written):
    source = packets_by_frame(SHENZHEN)
    with av.open(str(SHENZHEN)) as container:
        keyframes = [key for _, key in sorted((p.pts, p.is_keyframe) for p in container.demux(video=0) if p.size)]
    for cid, folder in written.folders.items():
        meta = metadata(folder)
        first, last = meta["segment"]["first"]["frame"], meta["segment"]["last"]["frame"]
        entered, left = meta["contravention"]["entered_lane"]["frame"], meta["contravention"]["left_lane"]["frame"]
        # From the keyframe at or before 3 s before entry to at least 3 s after exit.
        assert first <= max(0, entered - PRE) and last >= min(len(source) - 1, left + POST)
        assert keyframes[first], "the copy starts at a keyframe"
        assert max(0, entered - PRE) - first < 128, "the nearest earlier keyframe, not an older one"
        segment = packets_by_frame(folder / "original.mp4")
        assert len(segment) == last - first + 1
        assert segment == source[first:last + 1]
        # And it decodes to the very pixels of the source's frame.
        with av.open(str(folder / "original.mp4")) as container:
            decoded = next(container.decode(video=0)).to_ndarray(format="bgr24")
        with open_footage(SHENZHEN) as video:
            frame = next(bgr for i, bgr in video.frames() if i == first)
        assert np.array_equal(decoded, frame)
    assert hashlib.sha256(SHENZHEN.read_bytes()).hexdigest() == written.rows(
        "SELECT id FROM footage_files WHERE path = ?", [str(SHENZHEN.resolve())])[0][0], "source untouched"


def test_review_copy_is_h264_with_every_frame_numbered_in_its_data_bar(written):
    for folder in written.folders.values():
        meta = metadata(folder)
        first, frames = meta["segment"]["first"]["frame"], meta["segment"]["frames"]
        path = folder / "review.mp4"
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
            assert stream.width % 2 == 0 and stream.height == 360 + bar_height(640)
            duration = float(stream.duration * stream.time_base)
            codes = [read_frame_code(f.to_ndarray(format="bgr24")) for f in container.decode(stream)]
        assert len(codes) == frames == meta["files"]["review.mp4"]["frames"]
        assert duration == pytest.approx(frames / FPS, abs=1.01 / FPS)
        assert codes == list(range(first, first + frames))
        head = path.read_bytes()
        assert head.index(b"moov") < head.index(b"mdat"), "faststart: playable while downloading"


def test_review_copy_plays_in_headless_chromium(written, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    folder = next(iter(written.folders.values()))
    shutil.copy(folder / "review.mp4", tmp_path / "review.mp4")  # the case folder stays as written
    (tmp_path / "index.html").write_text('<video src="review.mp4" muted autoplay></video>')

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("document.querySelector('video').readyState >= 2", timeout=30_000)
                start = page.evaluate("document.querySelector('video').currentTime")
                page.wait_for_function(f"document.querySelector('video').currentTime > {start}", timeout=30_000)
                state = page.evaluate("(() => { const v = document.querySelector('video');"
                                      " return {error: v.error, duration: v.duration, height: v.videoHeight}; })()")
            finally:
                browser.close()
    finally:
        server.shutdown()
    assert state["error"] is None and state["height"] == 360 + bar_height(640)
    assert state["duration"] == pytest.approx(metadata(folder)["segment"]["frames"] / FPS, abs=0.1)


def _matches(picture: np.ndarray, frame: np.ndarray, keep: np.ndarray) -> bool:
    return np.array_equal(picture[keep], frame[keep])


def test_overview_shows_exactly_the_frame_its_data_bar_names(written, source_frames):
    site = load_site(BUS_LANE_SITE)
    for cid, folder in written.folders.items():
        still = cv2.imread(str(folder / "overview.png"))
        text = read_png_text(folder / "overview.png")
        n = read_frame_code(still)  # read back from the pixels of the data bar
        assert n == int(text["Frame"]) == metadata(folder)["files"]["overview.png"]["frame"]
        entered, left = (metadata(folder)["contravention"][k]["frame"] for k in ("entered_lane", "left_lane"))
        assert entered <= n <= left, "the overview shows the vehicle while it is in the lane"
        picture = still[:360]
        # Every pixel not under an outline is the recorded pixel of frame n, and of no neighbour.
        box = tuple(int(v) for v in text["Box"].split(","))
        outlines = draw_scene(np.zeros_like(picture), site, Observation(n, box, True)).any(axis=2)
        keep = ~outlines
        assert outlines.mean() < 0.05
        assert _matches(picture, source_frames[n], keep)
        assert not _matches(picture, source_frames[n - 1], keep)
        assert not _matches(picture, source_frames[n + 1], keep)
        # The drawn text says the same frame number (and time): re-rendering the bar reproduces it exactly.
        stamp = Stamp(datetime.fromisoformat(text["Time"]).astimezone(site.tz), site.camera_id, site.location, n)
        blank = np.zeros_like(picture)
        assert np.array_equal(still[360:], add_bar(blank, stamp)[360:])
        assert not np.array_equal(still[360:], add_bar(blank, Stamp(stamp.when, stamp.camera_id, stamp.location, n + 1))[360:])
        assert f"frame {n}" in stamp.lines()[0] and "(UTC+00:00)" in stamp.lines()[0]


def test_vehicle_close_up_is_labelled_and_made_of_the_recorded_pixels(written, source_frames):
    for cid, folder in written.folders.items():
        info = metadata(folder)["files"]["plate.png"]
        text = read_png_text(folder / "plate.png")
        still = cv2.imread(str(folder / "plate.png"))
        n = read_frame_code(still)
        assert n == int(text["Frame"]) == info["frame"]
        # No plate reader result yet: a vehicle close-up, said so in the image and its metadata.
        assert info["subject"] == "vehicle" and text["Label"].startswith("VEHICLE CLOSE-UP")
        track = json.loads(written.rows("SELECT p.track FROM lane_passages p JOIN contraventions c"
                                        " ON c.passage_id = p.id WHERE c.id = ?", [cid])[0][0])
        seg = metadata(folder)["segment"]
        areas = {f: (b[2] - b[0]) * (b[3] - b[1]) for f, b in zip(track["frames"], track["xyxy"])
                 if seg["first"]["frame"] <= f <= seg["last"]["frame"]}
        assert areas[n] == max(areas.values()), "taken where the vehicle is best visible"
        x1, y1, x2, y2 = info["crop"]
        ox, oy = info["origin"]
        k = info["scale"]
        enlarged = still[oy:oy + (y2 - y1) * k, ox:ox + (x2 - x1) * k]
        assert k >= 2 and np.array_equal(enlarged[::k, ::k], source_frames[n][y1:y2, x1:x2])
        assert np.array_equal(enlarged, np.kron(enlarged[::k, ::k], np.ones((k, k, 1), np.uint8))), "not interpolated"


def test_metadata_describes_case_site_models_and_software(written):
    site_sha = hashlib.sha256(BUS_LANE_SITE.read_bytes()).hexdigest()
    for cid, folder in written.folders.items():
        meta = metadata(folder)
        assert meta["camera"] == {"id": "SZ-BUSLANE-01", "location": load_site(BUS_LANE_SITE).location,
                                  "timezone": "Europe/London"}
        assert meta["site_config"]["sha256"] == site_sha and meta["site_config"]["text"] == BUS_LANE_SITE.read_text()
        assert meta["lane_rules"]["thresholds"]["min_seconds_in_lane"] == 1.5
        entered = datetime.fromisoformat(meta["contravention"]["entered_lane"]["time"])
        first_seen = written.rows("SELECT first_seen FROM contraventions WHERE id = ?", [cid])[0][0]
        assert entered == first_seen and entered.utcoffset() == timedelta(0)
        assert meta["contravention"]["entered_lane"]["time"].endswith("+00:00")
        stored = written.rows("SELECT p.track FROM lane_passages p JOIN contraventions c ON c.passage_id = p.id"
                              " WHERE c.id = ?", [cid])[0][0]
        assert meta["track"] == json.loads(stored)
        assert meta["plate"]["read"]["plate"] is None  # recorded as not read, not left out
        assert meta["models"]["vehicle_detector"] == model_hashes("vehicle_detector")
        assert meta["software"]["buslane"] == pipeline.__version__
        assert meta["source"]["sha256"] == hashlib.sha256(SHENZHEN.read_bytes()).hexdigest()


def test_manifest_checksums_and_store_agree_with_the_files(written):
    for cid, folder in written.folders.items():
        actual = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
        manifest = json.loads((folder / "manifest.json").read_text())
        assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
            k: v for k, v in actual.items() if k not in ("manifest.json", "SHA256SUMS")}
        sums = dict(reversed(line.split("  ")) for line in (folder / "SHA256SUMS").read_text().splitlines())
        assert sums == {k: v for k, v in actual.items() if k != "SHA256SUMS"}
        stored = dict(written.rows("SELECT path, sha256 FROM evidence_files WHERE contravention_id = ?", [cid]))
        assert stored == actual
        (manifest_sha,) = written.rows("SELECT manifest_sha256 FROM evidence_cases WHERE contravention_id = ?", [cid])[0]
        assert manifest_sha == actual["manifest.json"]
        # Written by the batch, then again by this test: each write is audited.
        assert written.rows("SELECT count(*) FROM audit_log WHERE action = 'evidence.written' AND entity_id = ?",
                            [cid])[0][0] == 2
        assert 0 < written.seconds[cid] < 60


def test_verify_passes_then_names_the_altered_and_the_missing_file(written, tmp_path):
    root, db = tmp_path / "root", tmp_path / "cases.duckdb"
    shutil.copytree(written.root, root)
    shutil.copy(written.db, db)
    move_root(Store(db), root)
    ok = buslane("evidence", "verify", "--all", "--db", db, "--root", root)
    assert ok.stdout.count("OK ") == len(written.folders)
    first, second = (root / f.relative_to(written.root) for f in list(written.folders.values())[:2])
    review = first / "review.mp4"
    data = bytearray(review.read_bytes())
    data[len(data) // 2] ^= 0x01
    review.write_bytes(bytes(data))
    (second / "overview.png").unlink()
    (second / "notes.txt").write_text("added later")
    bad = buslane("evidence", "verify", "--all", "--db", db, "--root", root, check=False)
    assert bad.returncode == 1
    assert "altered: review.mp4" in bad.stdout
    assert "missing: overview.png" in bad.stdout
    assert "unexpected file: notes.txt" in bad.stdout
    one = buslane("evidence", "verify", first.name, "--db", db, "--root", root, check=False)
    assert one.returncode == 1 and "altered: review.mp4" in one.stdout and "overview.png" not in one.stdout


def test_retention_dry_run_lists_a_real_run_deletes_and_pending_is_never_touched(written, tmp_path):
    root, db = tmp_path / "root", tmp_path / "cases.duckdb"
    shutil.copytree(written.root, root)
    shutil.copy(written.db, db)
    move_root(Store(db), root)
    rejected, pending = list(written.folders)[:2]
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE contraventions SET status = 'rejected' WHERE id = ?", [rejected])
    audits = "SELECT count(*) FROM audit_log WHERE action = 'evidence.deleted'"
    later = "2016-04-19T00:00:00+00:00"  # 32 days after the sightings

    dry = buslane("retention", "apply", "--db", db, "--root", root, "--now", later, "--dry-run")
    assert f"would delete {rejected}" in dry.stdout and pending not in dry.stdout
    assert all((root / f.relative_to(written.root)).is_dir() for f in written.folders.values())
    assert written.rows(audits, db=db)[0][0] == 0
    assert written.rows("SELECT count(*) FROM evidence_cases WHERE deleted_at IS NOT NULL", db=db)[0][0] == 0

    too_soon = buslane("retention", "apply", "--db", db, "--root", root, "--now", "2016-04-10T00:00:00+00:00")
    assert too_soon.stdout == ""

    years_later = "2030-01-01T00:00:00+00:00"  # the pending case is not touched however old it is
    done = buslane("retention", "apply", "--db", db, "--root", root, "--now", years_later)
    assert f"deleted {rejected}" in done.stdout and pending not in done.stdout
    assert not (root / written.folders[rejected].relative_to(written.root)).exists()
    assert (root / written.folders[pending].relative_to(written.root) / "review.mp4").is_file()
    # Database rows stay: the case, its file hashes, and the record of the deletion.
    assert written.rows("SELECT count(*) FROM contraventions", db=db)[0][0] == len(written.folders)
    assert written.rows("SELECT count(*) FROM evidence_files WHERE contravention_id = ?", [rejected], db=db)[0][0] == 7
    (by, reason), = written.rows("SELECT deleted_by, deletion_reason FROM evidence_cases WHERE contravention_id = ?",
                                 [rejected], db=db)
    assert by == CLI_OFFICER and "rejected" in reason  # the officer the OS user running it is mapped to
    (entity, details), = written.rows("SELECT entity_id, details FROM audit_log WHERE action = 'evidence.deleted'", db=db)
    assert entity == rejected and json.loads(details)["status"] == "rejected"
    verify = buslane("evidence", "verify", "--all", "--db", db, "--root", root)
    assert f"DELETED {rejected}" in verify.stdout and f"OK {pending}" in verify.stdout

    # Validated cases are kept until the penalty notice and appeal windows (28 + 56 days) have passed.
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE contraventions SET status = 'validated' WHERE id = ?", [pending])
    store = Store(db)
    seen = written.rows("SELECT first_seen FROM contraventions WHERE id = ?", [pending], db=db)[0][0]
    assert apply_retention(store, root, now=seen + timedelta(days=83), dry_run=True) == []
    assert [d.contravention_id for d in apply_retention(store, root, RetentionRules(), now=seen + timedelta(days=85),
                                                        dry_run=True)] == [pending]


def test_plate_close_up_comes_from_the_plate_readers_frame_and_box(written, source_frames, tmp_path):
    db = tmp_path / "plates.duckdb"
    shutil.copy(written.db, db)
    cid, folder = next(iter(written.folders.items()))
    n = metadata(folder)["files"]["overview.png"]["frame"]  # a frame with the vehicle in the lane
    track = metadata(folder)["track"]
    x1, y1, x2, y2 = track["xyxy"][track["frames"].index(n)]
    w, h = x2 - x1, y2 - y1
    plate_box = [x1 + 0.3 * w, y1 + 0.75 * h, x1 + 0.7 * w, y1 + 0.9 * h]
    with duckdb.connect(str(db)) as con:  # what the plate reader will record on the passage
        # DuckDB rewrites a row to update a list column, which its foreign key check refuses while a
        # contravention refers to the passage: set the case aside meanwhile.
        con.execute("CREATE TEMP TABLE held AS SELECT * FROM contraventions WHERE id = ?", [cid])
        con.execute("DELETE FROM contraventions WHERE id = ?", [cid])
        con.execute("UPDATE lane_passages SET plate = 'AB12CDE', plate_confidence = 0.91, plate_status = 'read',"
                    " plate_frame = ?, plate_box = ? WHERE id = (SELECT passage_id FROM held)", [n, plate_box])
        con.execute("INSERT INTO contraventions SELECT * FROM held")
    case = write_case(Store(db), cid, load_site(BUS_LANE_SITE), BUS_LANE_SITE, tmp_path / "root")
    info = metadata(case)["files"]["plate.png"]
    text = read_png_text(case / "plate.png")
    still = cv2.imread(str(case / "plate.png"))
    assert read_frame_code(still) == info["frame"] == n and info["subject"] == "plate"
    assert text["Label"] == "PLATE CLOSE-UP" and "AB12CDE" in text["Detail"]
    cx1, cy1, cx2, cy2 = info["crop"]
    bx1, by1, bx2, by2 = info["box"]
    assert cx1 <= bx1 < bx2 <= cx2 and cy1 <= by1 < by2 <= cy2
    ox, oy = info["origin"]
    k = info["scale"]
    assert np.array_equal(still[oy:oy + (cy2 - cy1) * k:k, ox:ox + (cx2 - cx1) * k:k], source_frames[n][cy1:cy2, cx1:cx2])
    meta = metadata(case)
    assert meta["plate"]["read"]["plate"] == "AB12CDE" and meta["plate"]["read"]["frame"] == n
    assert meta["models"]["plate_ocr"] == model_hashes("plate_ocr")
