"""Parallel, resumable and distributed processing give exactly the local run's results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from pipeline.store import Store
from tests.conftest import BUS_LANE_SITE, buslane

CONTRAVENTIONS = "SELECT id, first_frame, last_frame, vehicle_class FROM contraventions ORDER BY id"
PASSAGES = "SELECT id, first_frame, last_frame, is_contravention FROM lane_passages ORDER BY id"


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def good_files(night) -> list[Path]:
    return [night["folder"] / "low_rate.mp4", night["folder"] / "shenzhen.mp4"]


def test_killed_batch_resumes_with_nothing_lost_or_duplicated(night, tmp_path):
    db = tmp_path / "resume.duckdb"
    cmd = [sys.executable, "-m", "pipeline", "process", str(BUS_LANE_SITE), *map(str, good_files(night)),
           "--db", str(db), "--workers", "1", "--no-progress"]
    batch = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    store = None
    deadline = time.monotonic() + 300
    # Kill it once the short file is recorded, while it is in the middle of the long one.
    while time.monotonic() < deadline and batch.poll() is None:
        if db.exists():
            store = store or Store(db)
            if store.query("SELECT 1 FROM footage_files WHERE status = 'processed'"):
                break
        time.sleep(0.5)
    assert batch.poll() is None, "the batch finished before it could be interrupted"
    time.sleep(3)
    os.killpg(batch.pid, signal.SIGKILL)
    batch.wait()
    assert rows(db, "SELECT count(*) FROM footage_files")[0][0] == 1  # only the finished file

    again = buslane("process", BUS_LANE_SITE, *good_files(night), "--db", db, "--no-progress")
    assert "files: 2 (1 processed, 1 already done, 0 failed)" in again.stderr
    assert rows(db, CONTRAVENTIONS) == rows(night["db"], CONTRAVENTIONS)
    assert rows(db, PASSAGES) == rows(night["db"], PASSAGES)


def test_parallel_workers_and_ray_give_the_same_contraventions(night, tmp_path):
    pool_db, ray_db = tmp_path / "pool.duckdb", tmp_path / "ray.duckdb"
    buslane("process", BUS_LANE_SITE, *good_files(night), "--db", pool_db, "--workers", "2", "--no-progress")
    buslane("process", BUS_LANE_SITE, *good_files(night), "--db", ray_db, "--engine", "ray", "--no-progress")
    expected = rows(night["db"], CONTRAVENTIONS)
    assert len(expected) == 2
    assert rows(pool_db, CONTRAVENTIONS) == expected
    assert rows(ray_db, CONTRAVENTIONS) == expected
    assert rows(ray_db, PASSAGES) == rows(night["db"], PASSAGES)
