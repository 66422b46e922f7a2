"""Plates read by the batch across a vehicle's frames, stored with the passage, checked against the whitelist."""

from __future__ import annotations

import json

import cv2
import duckdb

from evidence.databar import read_frame_code
from pipeline.plates.types import is_foreign

from tests.conftest import NL_CLIP, NL_SITE, buslane


def one(db, sql: str, params: list | None = None):
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def test_the_contravention_carries_the_voted_plate_from_its_frames(plate_night):
    (case,) = one(plate_night["db"], "SELECT * FROM contraventions")
    assert case["plate"] == "L417VS"
    assert case["plate_status"] == "read" and case["plate_format"] == "unknown"  # Dutch: kept as read
    (passage,) = one(plate_night["db"], "SELECT * FROM lane_passages WHERE id = ?", [case["passage_id"]])
    assert passage["plate_reads"] >= 2 and len(passage["plate_char_confidence"]) == 6
    assert passage["first_frame"] <= passage["plate_frame"] <= passage["last_frame"]
    assert passage["plate_crop"][:8] == b"\x89PNG\r\n\x1a\n"
    alternatives = json.loads(passage["plate_alternatives"])
    assert alternatives[0]["text"] == "L417VS" and alternatives[0]["reads"] == passage["plate_reads"]
    # The plate box lies inside the vehicle's box at that frame: text and image are the same vehicle.
    track = json.loads(passage["track"])
    box = track["xyxy"][track["frames"].index(passage["plate_frame"])]
    x1, y1, x2, y2 = passage["plate_box"]
    assert box[0] <= x1 < x2 <= box[2] and box[1] <= y1 < y2 <= box[3]


def test_contraventions_output_has_the_plate_fields(plate_night):
    data = json.loads(buslane("contraventions", "--db", plate_night["db"], "--format", "json").stdout)
    assert [(r["plate"], r["plate_status"]) for r in data] == [("L417VS", "read")]
    assert 0.5 < data[0]["plate_confidence"] <= 1.0


def test_a_whitelisted_plate_is_exempt_and_never_queued(plate_night, tmp_path):
    whitelist = tmp_path / "approved.csv"
    whitelist.write_text("plate,category,operator,valid_from,valid_to,source,notes\n"
                         "L-417-VS,emergency,Test Fire Service,2026-01-01,,fleet list,\n")
    db = tmp_path / "listed.duckdb"
    buslane("whitelist", "import", whitelist, "--db", db)
    buslane("process", NL_SITE, NL_CLIP, "--db", db, "--no-progress", "--start", "2026-11-20T08:15:00",
            "--evidence", tmp_path / "evidence")
    assert one(db, "SELECT count(*) AS n FROM contraventions")[0]["n"] == 0
    # The car the clip follows (in view throughout; other cars pass for a second or so).
    passage = one(db, "SELECT * FROM lane_passages WHERE vehicle_class = 'car' ORDER BY seconds_in_lane DESC")[0]
    assert passage["seconds_in_lane"] > 4 and passage["plate"] == "L417VS"
    assert not passage["is_contravention"]
    assert passage["reason"] == "whitelisted: L417VS (emergency, Test Fire Service)"
    assert passage["whitelist_version"] == 1 and passage["whitelist_entry"].startswith("L417VS")


def test_evidence_plate_close_up_comes_from_the_read_frame(plate_night):
    (case,) = one(plate_night["db"], "SELECT c.id, p.plate_frame, p.plate_box FROM contraventions c "
                                     "JOIN lane_passages p ON p.id = c.passage_id")
    (folder,) = list(plate_night["evidence"].glob(f"*/*/{case['id']}"))
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["plate"]["read"]["plate"] == "L417VS"
    # The close-up is the stored read's frame and box: image and text come from the same vehicle.
    still = meta["files"]["plate.png"]
    assert still["subject"] == "plate" and still["frame"] == case["plate_frame"] == meta["plate"]["read"]["frame"]
    assert still["box"] == [round(v) for v in case["plate_box"]]
    # And the frame number is the one drawn into the still's data bar.
    image = cv2.imread(str(folder / "plate.png"))
    assert read_frame_code(image) == case["plate_frame"]


def test_the_plate_country_is_stored_and_a_foreign_plate_marked(plate_night):
    (case,) = one(plate_night["db"], "SELECT c.plate_country, c.plate_country_confidence, p.plate_country AS read"
                                     " FROM contraventions c JOIN lane_passages p ON p.id = c.passage_id"
                                     " WHERE c.plate = 'L417VS'")
    assert case["plate_country"] == case["read"] == "Netherlands"  # a Dutch yellow rear plate
    assert 0.5 < case["plate_country_confidence"] <= 1
    assert is_foreign(case["plate_country"])  # not traceable through the DVLA
