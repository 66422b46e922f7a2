"""A night's batch never dies of one file, two batches at once are safe, and workers end with it.

Real footage (short stream-copied cuts of the Shenzhen clip, a real JamCam clip), real DuckDB files,
the real command line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import duckdb
import psutil
import pytest

from tests.conftest import BUS_LANE_SITE, FOOTAGE, SHENZHEN, buslane, sidecar

JAMCAM = FOOTAGE / "jamcam_1_cromwell_rd_earls_court_rd.mp4"  # 352x288: too small for the 640x360 site
START = "2016-03-18T12:21:25"
COUNTS = {t: f"SELECT count(*) FROM {t}" for t in ("footage_files", "lane_passages", "contraventions")}


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def cut(dest: Path, title: str, gops: int = 2) -> Path:
    """The first `gops` groups of pictures of the Shenzhen clip, stream-copied (the first rider is in
    them); `title` goes into the container so that copies of the same frames differ in their bytes."""
    with av.open(str(SHENZHEN)) as source, av.open(str(dest), "w") as out:
        video = source.streams.video[0]
        stream = out.add_stream_from_template(video)
        out.metadata["title"] = title
        keyframes = 0
        for packet in source.demux(video):
            if packet.dts is None:
                continue
            keyframes += packet.is_keyframe
            if keyframes > gops:
                break
            packet.stream = stream
            out.mux(packet)
    return dest


def running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Two cuts of the same frames with the same start time but different bytes."""
    folder = tmp_path_factory.mktemp("clips")
    out = {name: cut(folder / f"{name}.mp4", name) for name in ("first", "twin")}
    for path in out.values():
        sidecar(path, START)
    return out


@pytest.fixture(scope="module")
def bad_night(clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_night")
    jamcam = folder / "jamcam.mp4"
    jamcam.symlink_to(JAMCAM)
    sidecar(jamcam, START)
    long_name = cut(folder / ("n" * 251 + ".mp4"), "long")  # 255 bytes, the most the file system allows
    still = folder / "frame.png"
    with av.open(str(SHENZHEN)) as video:
        cv2.imwrite(str(still), next(video.decode(video=0)).to_ndarray(format="bgr24"))
    sidecar(still, START)
    directory = folder / "a_folder.mp4"
    directory.mkdir()
    missing = folder / "missing.mp4"
    files = [clips["first"], jamcam, long_name, clips["first"], clips["twin"], still, directory, missing]
    db = folder / "night.duckdb"
    args = ("process", BUS_LANE_SITE, *files, "--db", db, "--no-progress", "--workers", "1",
            "--evidence", folder / "evidence")
    first = buslane(*args, check=False)
    counts = {t: rows(db, sql)[0][0] for t, sql in COUNTS.items()}
    again = buslane(*args, check=False)
    return {"db": db, "first": first, "again": again, "counts": counts, "jamcam": jamcam, "long": long_name,
            "still": still, "directory": directory, "missing": missing}


def test_one_bad_file_never_stops_the_batch(bad_night, clips):
    first = bad_night["first"]
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert "files: 8 (2 processed, 0 already done, 5 failed), 1 listed twice" in first.stderr
    status = dict(rows(bad_night["db"], "SELECT path, status FROM footage_files"))
    assert status[str(clips["first"])] == status[str(clips["twin"])] == "processed"


def test_every_bad_input_is_recorded_with_its_reason(bad_night):
    errors = dict(rows(bad_night["db"], "SELECT path, error FROM footage_files WHERE status = 'failed'"))
    assert len(errors) == 5
    # Each reason is one line and names the file as it was given.
    assert all("\n" not in e for e in errors.values())
    jamcam = errors[str(JAMCAM)]
    assert str(bad_night["jamcam"]) in jamcam and "SZ-BUSLANE-01" in jamcam and str(BUS_LANE_SITE) in jamcam
    assert "352x288" in jamcam and "lanes.0" in jamcam
    assert "sidecar" in errors[str(bad_night["long"])]
    assert "still image" in errors[str(bad_night["still"])]
    assert "is a directory" in errors[str(bad_night["directory"])]
    assert "no such file" in errors[str(bad_night["missing"])]


def test_copies_with_the_same_start_time_get_their_own_contraventions(bad_night, clips):
    found = rows(bad_night["db"], "SELECT c.id, f.path FROM contraventions c JOIN footage_files f ON f.id = c.footage_id")
    assert sorted(path for _, path in found) == sorted([str(clips["first"]), str(clips["twin"])])
    ids = [cid for cid, _ in found]
    assert len(set(ids)) == 2 and all(cid.startswith("SZ-BUSLANE-01-20160318-1221") for cid in ids)


def test_the_morning_report_names_every_failed_input(bad_night):
    out = buslane("report", "--db", bad_night["db"]).stdout
    assert "CHECK CAMERA" in out
    failed = [line for line in out.splitlines() if line.strip().startswith("FAILED:")]
    assert len(failed) == 5
    for name in ("jamcam.mp4", bad_night["long"].name, "frame.png", "a_folder.mp4", "missing.mp4"):
        assert sum(name in line for line in failed) == 1, name


def test_running_the_bad_night_again_adds_nothing(bad_night):
    again = bad_night["again"]
    assert again.returncode == 0 and "Traceback" not in again.stderr
    assert "2 already done, 5 failed" in again.stderr
    assert {t: rows(bad_night["db"], sql)[0][0] for t, sql in COUNTS.items()} == bad_night["counts"]


def test_nothing_processed_is_a_failure_exit(tmp_path):
    done = buslane("process", BUS_LANE_SITE, tmp_path / "missing.mp4", "--db", tmp_path / "x.duckdb",
                   "--no-progress", check=False)
    assert done.returncode == 1 and "missing.mp4: no such file" in done.stderr
    assert rows(tmp_path / "x.duckdb", "SELECT status FROM footage_files") == [("failed",)]


def test_two_batches_at_once_record_each_contravention_once(clips, tmp_path):
    db = tmp_path / "shared.duckdb"
    cmd = [sys.executable, "-m", "pipeline", "process", str(BUS_LANE_SITE), str(clips["first"]), str(clips["twin"]),
           "--db", str(db), "--no-progress", "--workers", "1", "--evidence", str(tmp_path / "evidence")]
    batches = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(b.wait(), b.stderr.read()) for b in batches]
    for code, err in outcomes:
        assert code == 0 and "Traceback" not in err, err
    assert rows(db, "SELECT count(*), count(DISTINCT id) FROM contraventions") == [(2, 2)]
    assert rows(db, "SELECT status, count(*) FROM footage_files GROUP BY status") == [("processed", 2)]
    # Each file was analysed and recorded by exactly one of the two batches.
    assert rows(db, "SELECT count(*) FROM audit_log WHERE action = 'batch.file_processed'") == [(2,)]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["killed", "interrupted"])
def test_workers_die_with_a_killed_batch(clips, tmp_path, how):
    long_clip = tmp_path / "shenzhen.mp4"
    long_clip.symlink_to(SHENZHEN)
    sidecar(long_clip, START)
    cmd = [sys.executable, "-m", "pipeline", "process", str(BUS_LANE_SITE), str(long_clip), str(clips["first"]),
           "--db", str(tmp_path / "k.duckdb"), "--no-progress", "--workers", "2",
           "--evidence", str(tmp_path / "evidence")]
    batch = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(batch.pid)
    workers: list[psutil.Process] = []
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline and batch.poll() is None:
        workers = parent.children()
        time.sleep(0.2)
    assert len(workers) >= 2, "the batch never started its workers"
    time.sleep(2)  # let them load their models and start on the footage
    os.kill(batch.pid, how)  # the batch process alone: its workers must notice by themselves
    batch.wait()
    alive = workers
    deadline = time.monotonic() + 60
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [w for w in alive if running(w)]
    for w in alive:  # leave nothing behind for the next test, whatever happened
        w.kill()
    assert not alive, f"{len(alive)} worker(s) outlived the killed batch"


def test_a_file_whose_recording_fails_is_recorded_as_failed_and_the_batch_goes_on(clips, tmp_path, monkeypatch):
    import pipeline.batch
    from pipeline.batch import Batch

    real = pipeline.batch.record_result

    def failing(con, result, *args):  # a fault injected where the database write happens
        if result.status == "processed" and result.path == clips["first"]:
            raise RuntimeError("disk full\nsecond line")
        return real(con, result, *args)

    monkeypatch.setattr(pipeline.batch, "record_result", failing)
    db = tmp_path / "r.duckdb"
    batch = Batch.from_files(BUS_LANE_SITE, db, workers=1, progress=False, evidence_root=tmp_path / "evidence")
    summary = batch.run([clips["first"], clips["twin"]])
    assert [r.status for r in summary.results] == ["failed", "processed"] and summary.ok
    assert rows(db, "SELECT path, status, error FROM footage_files ORDER BY status") == [
        (str(clips["first"]), "failed", f"{clips['first']}: could not be recorded: RuntimeError: disk full second line"),
        (str(clips["twin"]), "processed", None),
    ]
    assert rows(db, "SELECT count(*) FROM contraventions") == [(1,)]
    # A case slipped in by SQL under the failed file's id is not taken into the history when the file
    # is run again: only the cases the batch itself writes are recorded.
    [(failed_id,)] = rows(db, "SELECT id FROM footage_files WHERE status = 'failed'")
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO contraventions SELECT * REPLACE ('FORGED-1' AS id, 'p-forged' AS passage_id,"
                    " ? AS footage_id) FROM contraventions", [failed_id])
    monkeypatch.setattr(pipeline.batch, "record_result", real)
    assert [r.status for r in batch.run([clips["first"]]).results] == ["processed"]
    assert rows(db, f"SELECT count(*) FROM contraventions WHERE footage_id = '{failed_id}'") == [(2,)]
    verify = buslane("audit", "verify", "--db", db, check=False)
    assert verify.returncode == 1, verify.stdout
    assert "BROKEN history: 1 problems; first broken row: contraventions FORGED-1: not in the history" in verify.stdout
