"""Hand-off to the back office, from the real batch's cases (the `night` fixture's two Shenzhen cases and
the Dutch plate clip's one, processed into a copy of the night's database), decided through the review
services; and accuracy figures over a database of known decisions.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from evidence.manifest import hash_file
from pipeline.history import verify_chain
from pipeline.plates.types import UK
from pipeline.store import Store, audit
from review_app.services import cases as case_service
from review_app.services import corrections, decisions
from review_app.services.users import User
from tests.conftest import CLI_OFFICER, NL_CLIP, NL_SITE, buslane
from tests.test_pack import copy_night, pdf_text
from tests.test_review_app import click, db, goto, signed_in, users_file  # noqa: F401 (db, users_file: fixtures)

JO, SAM = User("jo", "officer"), User("sam", "supervisor")
FORMULA = '=HYPERLINK("http://x","click")'


@dataclass(frozen=True)
class Decided:
    store: Store
    db: Path
    folder: Path
    corrected: str       # Shenzhen case, plate keyed in over no reading; country unknown
    uk: str              # Shenzhen case, its reading's country set to UK (this footage's plates are unreadable)
    dutch: str           # the Dutch clip's case, plate and country as read


@pytest.fixture(scope="module")
def decided(night, tmp_path_factory) -> Decided:
    folder = tmp_path_factory.mktemp("export")
    store, root, (corrected, uk) = copy_night(night, folder)
    db = folder / "night.duckdb"
    buslane("process", NL_SITE, NL_CLIP, "--db", db, "--no-progress", "--start", "2026-11-20T08:15:00",
            "--evidence", root)
    dutch = store.query("SELECT id FROM contraventions WHERE camera_id = 'NL-HANDHELD-TEST' AND plate IS NOT NULL"
                        " AND plate_country = 'Netherlands' ORDER BY first_seen LIMIT 1")[0]["id"]
    with store.transaction() as con:  # the council's own free text must not run as a formula in a spreadsheet
        con.execute("UPDATE contraventions SET plate_country = ? WHERE id = ?", [UK, uk])
        con.execute("UPDATE contraventions SET location = ? WHERE id = ?", [FORMULA, dutch])
        for case_id in (uk, dutch):  # as if the batch had recorded them so: the history records these facts
            audit(con, "test", "contravention.recorded", "contravention", case_id, ("contraventions", case_id))
    assert corrections.correct_plate(store, corrected, JO, "OY09 FEU").ok
    for case_id, plate in ((corrected, None), (uk, "MT56 BJX"), (dutch, None)):
        outcome = decisions.validate(store, case_id, JO, plate)
        assert outcome.ok, outcome.message
    return Decided(store, db, folder, corrected, uk, dutch)


def export_pcn(d: Decided, name: str, *more: str, fmt: str = "csv") -> list[dict]:
    out = d.folder / name
    buslane("export", "pcn", "--db", d.db, "--format", fmt, "--out", out, *more)
    text = out.read_text()
    return json.loads(text) if fmt == "json" else list(csv.DictReader(io.StringIO(text)))


def pcn_exports(d: Decided) -> list[dict]:
    return d.store.query("SELECT * FROM exports WHERE kind = 'pcn' ORDER BY created_at")


def test_validated_cases_go_out_once_with_code_34_the_decided_plate_and_their_packs(decided):
    rows = export_pcn(decided, "pcn_1.csv")
    assert sorted(r["case_id"] for r in rows) == sorted([decided.corrected, decided.uk, decided.dutch])
    by_id = {r["case_id"]: r for r in rows}
    assert {r["contravention_code"] for r in rows} == {"34J"}
    assert by_id[decided.corrected]["plate"] == "OY09FEU"  # as corrected by the officer
    assert by_id[decided.corrected]["plate_country"] == "unknown"
    assert by_id[decided.dutch]["plate_country"] == "Netherlands"
    assert by_id[decided.corrected]["validated_by"] == "jo"
    first = by_id[decided.corrected]
    assert first["contravention_at"].startswith("2016-03-18T12:2") and first["contravention_at"].endswith("+00:00")
    assert first["serve_by"] == "2016-04-14"  # 28 days beginning with 18 March
    for r in rows:  # each pack on disk is the one named, and the one the store recorded
        pack = decided.folder / "packs" / r["pack_file"]
        assert hash_file(pack)[0] == r["pack_sha256"]
        assert decided.store.query("SELECT id FROM packs WHERE zip_sha256 = ?", [r["pack_sha256"]])
        with zipfile.ZipFile(pack) as zf:
            assert f"{r['case_id']}/manifest.json.sig" in zf.namelist()  # signed
    assert by_id[decided.dutch]["location"] == "'" + FORMULA  # shown as text, never run
    (export,) = pcn_exports(decided)
    assert sorted(export["cases"]) == sorted(by_id) and export["created_by"] == CLI_OFFICER
    assert export["sha256"] == hash_file(decided.folder / "pcn_1.csv")[0]
    assert export_pcn(decided, "pcn_2.csv") == []  # nothing twice
    with decided.store.connect() as con:
        check = verify_chain(con)
    assert check.ok, check.lines()
    assert decided.store.query("SELECT count(*) AS n FROM audit_log WHERE action = 'export.pcn' AND record_table = "
                               "'exports'")[0]["n"] == 2


def test_a_reopened_case_goes_again_only_when_named_and_shows_its_export(decided):
    if not pcn_exports(decided):
        export_pcn(decided, "pcn_first.csv")
    first = pcn_exports(decided)[0]["id"]
    case_id = decided.corrected
    assert decisions.reopen(decided.store, case_id, SAM, "officer asked for a second look").ok
    assert any(f"export {first}" in e.what for e in case_service.history(decided.store, case_id))
    assert decisions.validate(decided.store, case_id, JO).ok
    assert export_pcn(decided, "pcn_again_unnamed.json", fmt="json") == []
    (row,) = export_pcn(decided, "pcn_again.json", "--again", case_id, fmt="json")
    assert row["case_id"] == case_id and row["plate"] == "OY09FEU"
    holding = [e for e in pcn_exports(decided) if case_id in e["cases"]]
    assert len(holding) == 2 and holding[1]["again"] == [case_id]
    # the pack made for the second export was built after the first: its history states that export
    with zipfile.ZipFile(decided.folder / "packs" / row["pack_file"]) as zf:
        assert first in pdf_text(zf.read(f"{case_id}/case_summary.pdf"))
    assert hash_file(decided.folder / "packs" / row["pack_file"])[0] == row["pack_sha256"]
    with decided.store.connect() as con:
        assert verify_chain(con).ok


def test_an_export_altered_afterwards_breaks_the_history(decided, tmp_path):
    if not pcn_exports(decided):
        export_pcn(decided, "pcn_first.csv")
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(decided.db.read_bytes())
    store = Store(copy)
    with store.connect() as con:
        con.execute("UPDATE exports SET cases = [] WHERE kind = 'pcn'")
        check = verify_chain(con)
    assert not check.ok and check.breaks[0].table == "exports"


def test_an_unknown_case_named_again_is_refused_by_name(decided):
    done = buslane("export", "pcn", "--db", decided.db, "--out", decided.folder / "x.csv", "--again", "NO-SUCH",
                   check=False)
    assert done.returncode == 1 and "--again NO-SUCH: no such case" in done.stderr


def test_keeper_enquiry_sends_uk_and_unknown_plates_and_foreign_ones_apart(decided):
    out, foreign = decided.folder / "keeper.csv", decided.folder / "foreign.csv"
    buslane("export", "keeper-enquiry", "--db", decided.db, "--out", out, "--foreign", foreign)
    enquiry = {r["case_id"]: r for r in csv.DictReader(out.open())}
    abroad = {r["case_id"]: r for r in csv.DictReader(foreign.open())}
    assert set(enquiry) == {decided.corrected, decided.uk} and set(abroad) == {decided.dutch}
    assert enquiry[decided.uk]["plate_country"] == UK and enquiry[decided.uk]["plate"] == "MT56BJX"
    assert enquiry[decided.corrected]["plate_country"] == "unknown"  # listed as such, never guessed
    assert enquiry[decided.corrected]["contravention_date"] == "2016-03-18"
    assert abroad[decided.dutch]["plate_country"] == "Netherlands"
    buslane("export", "keeper-enquiry", "--db", decided.db, "--out", out, "--foreign", foreign)
    assert list(csv.DictReader(out.open())) == [] and list(csv.DictReader(foreign.open())) == []


def test_a_supervisor_exports_from_the_app_and_the_download_is_session_checked(db):
    store = Store(db)
    ids = [r["id"] for r in store.query("SELECT id FROM contraventions WHERE status = 'pending' ORDER BY id")]
    for case_id, plate in zip(ids, ("OY09 FEU", "MT56 BJX")):
        assert decisions.validate(store, case_id, JO, plate).ok
    assert "Only a supervisor" in goto(signed_in("jo"), "Exports").warning[0].value
    at = click(goto(signed_in("sam"), "Exports"), "Make export")
    (export,) = store.query("SELECT * FROM exports")
    assert sorted(export["cases"]) == sorted(ids) and export["created_by"] == "sam"
    assert list(at.dataframe[0].value["Export"]) == [export["id"]]
    button = next(e for e in at.get("component_instance") if e.key == f"export-file-{export['id']}")
    assert f'Download {export["file_name"]} (2 cases)' in button.proto.json_args
    assert all((db.parent / "exports" / "packs" / f"{i}_evidence_pack.zip").is_file() for i in ids)


T0 = datetime(2026, 3, 3, 8, 0, tzinfo=timezone.utc)  # Tuesday of ISO week 2026-W10 (GMT)


def insert_case(con, case_id: str, camera: str, seen: datetime, status: str,
                decided: list[tuple[str, float, str | None]] = ()) -> None:
    """A case seen at `seen`, queued then, and its decisions: (action, hours after queueing, reason)."""
    con.execute(
        "INSERT INTO contraventions (id, passage_id, camera_id, first_seen, last_seen, timezone, vehicle_class, footage,"
        " footage_id, first_frame, last_frame, status, review_deadline, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'Europe/London', 'car', 'f.mp4', 'f', 0, 10, ?, ?, ?)",
        [case_id, f"p-{case_id}", camera, seen, seen, status, seen + timedelta(days=14), seen])
    for action, hours, reason in decided:
        con.execute('INSERT INTO decisions (contravention_id, officer, "at", action, reason_code) VALUES (?, ?, ?, ?, ?)',
                    [case_id, "jo", seen + timedelta(hours=hours), action, reason])


def test_accuracy_figures_equal_the_counts_by_hand(tmp_path):
    from pipeline.accuracy import accuracy

    store = Store(tmp_path / "known.duckdb")
    with store.connect() as con:
        insert_case(con, "c1", "CAM-A", T0, "validated", [("validate", 2, None)])
        insert_case(con, "c2", "CAM-A", T0, "validated", [("validate", 4, None)])
        insert_case(con, "c3", "CAM-A", T0, "rejected", [("reject", 6, "outside_hours")])
        insert_case(con, "c4", "CAM-A", T0, "rejected", [("validate", 1, None), ("reopen", 3, None),
                                                          ("reject", 10, "permitted_not_whitelisted")])
        insert_case(con, "c5", "CAM-A", T0, "pending")
        insert_case(con, "c6", "CAM-B", T0 + timedelta(days=7), "rejected", [("reject", 1, "signage_fault")])
        for case_id, old, new in (("c1", "AB12COE", "AB12CDE"), ("c2", None, "XY34ZZZ"), ("c5", "AB1", "AB12")):
            con.execute('INSERT INTO plate_corrections (contravention_id, officer, "at", old, new, format,'
                        " whitelist_result) VALUES (?, 'jo', ?, ?, ?, 'current', 'not whitelisted')",
                        [case_id, T0, old, new])
        con.execute("INSERT INTO whitelist_gaps (plate, category, contravention_id, flagged_by, flagged_at)"
                    " VALUES ('AB12CDE', 'taxi', 'c4', 'jo', ?)", [T0])
    a, b = accuracy(store)
    assert (a.camera_id, a.week, a.decided, a.validated, a.rejected) == ("CAM-A", "2026-W10", 4, 2, 2)
    assert dict(a.rejected_by_reason) == {"outside_hours": 1, "permitted_not_whitelisted": 1}
    assert (a.corrected, dict(a.positions), a.keyed_without_read, a.gaps) == (2, {6: 1}, 1, 1)
    assert a.median_hours_to_decision == 3.0  # first decisions after 2, 4, 6 and 1 hours
    assert (b.camera_id, b.week, b.rejected_share, b.corrected) == ("CAM-B", "2026-W11", 1.0, 0)


def test_the_morning_report_flags_a_camera_whose_rejections_jump(tmp_path):
    from pipeline.report import morning_report

    store = Store(tmp_path / "jump.duckdb")
    with store.connect() as con:
        for week in range(5):  # CAM-A: 1 of 10 rejected for four weeks, then 6 of 10
            for n in range(10):
                rejected = n < (6 if week == 4 else 1)
                insert_case(con, f"a{week}-{n}", "CAM-A", T0 + timedelta(weeks=week), "rejected" if rejected
                            else "validated", [("reject", 1, "other") if rejected else ("validate", 1, None)])
        for n in range(9):  # CAM-B: all 9 rejected in its latest week, but under 10 decisions
            insert_case(con, f"b-{n}", "CAM-B", T0 + timedelta(weeks=4), "rejected", [("reject", 1, "other")])
        insert_case(con, "b-old", "CAM-B", T0, "validated", [("validate", 1, None)])
    reports = {r.camera_id: r for r in morning_report(store)}
    assert reports["CAM-A"].faulty and reports["CAM-A"].rejections_up == [
        "REJECTIONS UP in 2026-W14: 60% of 10 decisions rejected against 10% over its previous 4 week(s): "
        "check the camera's view and the lane's markings"]
    assert "CAM-B" not in reports or not reports["CAM-B"].rejections_up
    done = buslane("report", "--db", tmp_path / "jump.duckdb", "--accuracy")
    assert "CAM-A 2026-W14: 10 decided, 40% validated, 60% rejected (other 6)" in done.stdout
    assert "REJECTIONS UP in 2026-W14" in done.stdout
