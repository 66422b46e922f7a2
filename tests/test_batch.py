"""The night batch end to end through the command line: real model, real footage, real DuckDB file."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import BUS_LANE_SITE, LABELS, SHENZHEN, buslane, overlaps, sidecar


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_broken_files_get_clear_errors_and_the_real_files_are_processed(night):
    err = night["first"].stderr
    assert "truncated.mp4: truncated: only" in err
    assert "notes.mp4: cannot be read as video" in err
    assert "files: 4 (2 processed, 0 already done, 2 failed)" in err
    status = dict(rows(night["db"], "SELECT regexp_extract(path, '[^/]+$'), status FROM footage_files"))
    # The symlinked clip is recorded under the real file's path.
    assert status == {SHENZHEN.name: "processed", "low_rate.mp4": "processed",
                      "truncated.mp4": "failed", "notes.mp4": "failed"}


def test_contraventions_json_lists_the_riders_with_deadlines(night):
    out = buslane("contraventions", "--db", night["db"], "--format", "json")
    data = json.loads(out.stdout)  # standard output carries only the data
    riders = LABELS["bus_lane"]["riders_along"]
    assert len(data) == len(riders)
    for row in data:
        assert {"id", "camera_id", "first_seen", "last_seen", "vehicle_class", "footage", "first_frame",
                "last_frame", "status", "review_deadline", "plate", "plate_confidence", "plate_status"} <= row.keys()
        assert row["camera_id"] == "SZ-BUSLANE-01" and row["status"] == "pending"
        assert row["vehicle_class"] == "motorcycle"
        assert any(overlaps((row["first_frame"], row["last_frame"]), r) for r in riders)
        first = datetime.fromisoformat(row["first_seen"])
        assert first.utcoffset() == timedelta(0)  # March: GMT
        assert first.date().isoformat() == "2016-03-18" and first.hour == 12
        # 14 calendar days later, same clock time, although the clocks have gone forward to BST.
        deadline = datetime.fromisoformat(row["review_deadline"])
        assert deadline.replace(tzinfo=None) - first.replace(tzinfo=None) == timedelta(days=14)
        assert deadline.utcoffset() == timedelta(hours=1)


def test_contraventions_csv_is_clean_on_stdout(night):
    out = buslane("contraventions", "--db", night["db"], "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(table) == len(LABELS["bus_lane"]["riders_along"])
    assert table[0]["first_seen"].endswith("+00:00")


def test_every_lane_entry_is_a_passage_with_its_reason(night):
    passages = rows(night["db"], "SELECT vehicle_class, is_contravention, reason FROM lane_passages")
    assert any(cls == "bus" and not flagged and reason == "bus: exempt by sight" for cls, flagged, reason in passages)
    assert sum(flagged for _, flagged, _ in passages) == len(LABELS["bus_lane"]["riders_along"])
    assert all(reason for _, _, reason in passages)


def test_running_the_same_night_again_adds_nothing(night):
    tables = ("footage_files", "lane_passages", "contraventions")
    before = {t: rows(night["db"], f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    again = buslane("process", BUS_LANE_SITE, *night["files"], "--db", night["db"], "--no-progress")
    assert "2 already done, 2 failed" in again.stderr
    assert {t: rows(night["db"], f"SELECT count(*) FROM {t}")[0][0] for t in tables} == before


def test_morning_report_flags_low_frame_rate_failures_and_gaps(night):
    out = buslane("report", "--db", night["db"]).stdout
    assert "camera SZ-BUSLANE-01: CHECK CAMERA" in out
    assert "LOW FRAME RATE" in out and "low_rate.mp4: 4.0 frames/s" in out
    assert "FAILED" in out and "notes.mp4" in out and "truncated.mp4" in out
    assert "gap: 2016-03-18T12:22:12+00:00 to 2016-03-18T12:30:00+00:00" in out
    assert "contraventions: 2" in out


def test_exit_code_is_non_zero_only_when_nothing_could_be_processed(night, tmp_path):
    only_bad = buslane("process", BUS_LANE_SITE, night["folder"] / "notes.mp4", "--db", tmp_path / "x.duckdb",
                       "--no-progress", check=False)
    assert only_bad.returncode == 1 and "notes.mp4: cannot be read as video" in only_bad.stderr


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s["lanes"].__setitem__(0, [[0, 0], [10, 10]]), "lanes.0: a polygon needs at least 3 points, got 2"),
        (lambda s: s["hours"]["windows"].__setitem__("funday", ["07:00-10:00"]), "hours.windows: unknown weekday 'funday'"),
        (lambda s: s["hours"]["windows"].__setitem__("sat", ["18:00-08:00"]), "hours.windows.sat.0: window ends (08:00) before it starts (18:00)"),
        (lambda s: s.__setitem__("timezone", "Europe/Londn"), "timezone: unknown timezone 'Europe/Londn'"),
        (lambda s: s.pop("camera_id"), "camera_id: Field required"),
    ],
)
def test_broken_site_config_fails_before_any_footage_is_read(tmp_path, change, message):
    site = yaml.safe_load(BUS_LANE_SITE.read_text())
    change(site)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(site))
    db = tmp_path / "never.duckdb"
    done = buslane("process", path, SHENZHEN, "--db", db, "--no-progress", check=False)
    assert done.returncode == 2
    assert str(path) in done.stderr and message in done.stderr
    assert not db.exists()  # nothing was opened, let alone read


def test_a_missing_model_is_named_with_every_place_looked(tmp_path):
    site = yaml.safe_load(BUS_LANE_SITE.read_text())
    site["detection"] = {"model": "vehicle_detector_v9"}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    sidecar(tmp_path / "clip.mp4", "2016-03-18T12:21:25")
    (tmp_path / "clip.mp4").symlink_to(SHENZHEN)
    done = buslane("process", path, tmp_path / "clip.mp4", "--db", tmp_path / "m.duckdb", "--no-progress", check=False)
    assert done.returncode == 2 and "model 'vehicle_detector_v9' is neither a name in" in done.stderr


def test_the_batch_writes_verifiable_evidence_for_every_contravention(night):
    assert "evidence: " in night["first"].stderr and "of the wall time" in night["first"].stderr
    ids = [r[0] for r in rows(night["db"], "SELECT id FROM contraventions")]
    for cid in ids:
        folders = list(night["evidence"].glob(f"SZ-BUSLANE-01/2016-03-18/{cid}"))
        assert folders and (folders[0] / "review.mp4").is_file() and (folders[0] / "original.mp4").is_file()
    done = buslane("evidence", "verify", "--all", "--db", night["db"], "--root", night["evidence"])
    assert done.returncode == 0
