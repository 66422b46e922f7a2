"""The review app's rules, without Streamlit: users, deadlines, queue, decisions, corrections, gaps."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from evidence.settings import move_root
from pipeline.deadlines import DAYS_LEFT_SQL, Urgency, days_left, describe, describe_decided, urgency
from pipeline.site import load_site
from pipeline.store import Store
from review_app.bench import fill
from review_app.services import corrections, decisions, gaps, handover
from review_app.services.cases import history, load_case
from review_app.services.dashboard import dashboard
from review_app.services.queue import QueueFilter, neighbour, next_pending, queue_page
from review_app.services.users import User, UsersFile
from tests.conftest import BUS_LANE_SITE
from whitelist.csv_format import parse_whitelist
from whitelist.versions import import_whitelist

NOW = datetime(2024, 5, 10, 9, 0, tzinfo=timezone.utc)
JO, AL, SAM = User("jo", "officer"), User("al", "officer"), User("sam", "supervisor")


@pytest.fixture
def night_db(night, tmp_path) -> Store:
    """A private copy of the batch's database: two real pending contraventions."""
    db = tmp_path / "night.duckdb"
    shutil.copy(night["db"], db)
    return Store(db)


@pytest.fixture
def queue_db(tmp_path) -> Store:
    """60 synthetic pending cases seen over 20 days up to NOW: deadlines 6 days late to 14 ahead."""
    store = Store(tmp_path / "queue.duckdb")
    fill(store, 60, now=NOW, prefix="Q")
    return store


def import_list(store: Store, csv: str) -> None:
    with store.transaction() as con:
        import_whitelist(con, parse_whitelist(csv.encode(), "test.csv"), "test", True)


# --- users -----------------------------------------------------------------------------------

def test_users_file_stores_only_argon2_hashes_and_authenticates(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("jo", "officer", "correct horse")
    users.add("sam", "supervisor", "battery staple")
    text = users.path.read_text()
    assert "correct horse" not in text and "$argon2id$" in text
    assert users.path.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert users.authenticate("jo", "correct horse") == JO
    assert users.authenticate(" Sam ", "battery staple") == SAM
    assert users.authenticate("jo", "battery staple") is None
    assert users.authenticate("nobody", "correct horse") is None
    assert users.users() == [JO, SAM]


@pytest.mark.parametrize("name, role, password, problem", [
    ("jo", "officer", "short", "at least 8"),
    ("jo", "admin", "long enough", "role"),
    ("Jo Smith", "officer", "long enough", "name"),
])
def test_users_file_refuses_bad_entries(tmp_path, name, role, password, problem):
    with pytest.raises(ValueError, match=problem):
        UsersFile(tmp_path / "users.yaml").add(name, role, password)


def test_adding_an_existing_user_needs_replace(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("jo", "officer", "first password")
    with pytest.raises(ValueError, match="already exists"):
        users.add("jo", "supervisor", "second password")
    users.add("jo", "supervisor", "second password", replace=True)
    assert users.authenticate("jo", "second password") == User("jo", "supervisor")


# --- deadlines and queue ---------------------------------------------------------------------

# Fixed times either side of the clock changes (BST from 2024-03-31 01:00 UTC to 2024-10-27 01:00 UTC).
UTC = timezone.utc


@pytest.mark.parametrize("deadline, now, days, said, level", [
    (datetime(2024, 3, 30, 10, tzinfo=UTC), datetime(2024, 3, 31, 13, tzinfo=UTC), -1, "1 day overdue",
     Urgency.OVERDUE),  # 27 h past, on the next UK day
    (datetime(2024, 3, 27, 10, tzinfo=UTC), datetime(2024, 3, 31, 23, 30, tzinfo=UTC), -5, "5 days overdue",
     Urgency.OVERDUE),  # 23:30 UTC is already 1 April in London
    (datetime(2024, 3, 31, 22, tzinfo=UTC), datetime(2024, 3, 31, 1, tzinfo=UTC), 0, "due today",
     Urgency.DUE_SOON),  # 21 h before, the same UK day
    (datetime(2024, 3, 31, 23, 30, tzinfo=UTC), datetime(2024, 3, 31, 2, 30, tzinfo=UTC), 1, "due tomorrow",
     Urgency.DUE_SOON),  # 21 h before, but the deadline is 00:30 BST on 1 April
    (datetime(2024, 10, 26, 23, 30, tzinfo=UTC), datetime(2024, 10, 26, 22, tzinfo=UTC), 1, "due tomorrow",
     Urgency.DUE_SOON),  # 90 minutes before, across midnight BST
    (datetime(2024, 10, 30, 9, tzinfo=UTC), datetime(2024, 10, 27, 23, tzinfo=UTC), 3, "3 days left", Urgency.OK),
])
def test_deadlines_count_uk_calendar_days_in_python_and_sql(tmp_path, deadline, now, days, said, level):
    store = Store(tmp_path / "d.duckdb")
    in_sql = store.query(f"SELECT {DAYS_LEFT_SQL.replace('review_deadline', 'CAST(? AS TIMESTAMPTZ)', 1)} AS d",
                         [now, deadline])[0]["d"]
    assert days_left(deadline, now) == in_sql == days
    assert describe(days) == said and urgency(days) is level


def test_queue_is_ordered_by_deadline_with_late_and_nearly_due_cases_counted(queue_db):
    page = queue_page(queue_db, QueueFilter(), page_size=25, now=NOW)
    assert page.total == 60 and page.pages == 3
    shown = [r.days_left for r in page.rows]
    assert shown == sorted(shown) and shown[0] == -6
    assert {r.urgency for r in page.rows if r.days_left < 0} == {Urgency.OVERDUE}
    assert {r.urgency for r in page.rows if 0 <= r.days_left <= 2} == {Urgency.DUE_SOON}
    everything = queue_page(queue_db, QueueFilter(), page_size=100, now=NOW).rows
    assert page.overdue == sum(r.days_left < 0 for r in everything) > 0
    assert page.due_soon == sum(0 <= r.days_left <= 2 for r in everything) > 0
    last = queue_page(queue_db, QueueFilter(), page=2, page_size=25, now=NOW)
    assert len(last.rows) == 10 and last.rows[-1].id == "Q-000059"
    assert queue_page(queue_db, QueueFilter(), page=99, page_size=25, now=NOW).page == 2  # clamped


def test_queue_filters(queue_db):
    by_camera = queue_page(queue_db, QueueFilter(camera="Q-CAM1"), page_size=100, now=NOW)
    assert by_camera.total == 12 and {r.camera_id for r in by_camera.rows} == {"Q-CAM1"}
    assert queue_page(queue_db, QueueFilter(plate="q0 7x"), now=NOW).total == 1  # Q07XYZ, case and spaces ignored
    day = (NOW - timedelta(days=10)).date()
    by_day = queue_page(queue_db, QueueFilter(date_from=day, date_to=day), page_size=100, now=NOW)
    assert 0 < by_day.total < 60 and all(r.seen.startswith(day.isoformat()) for r in by_day.rows)
    decisions.validate(queue_db, "Q-000000", JO)
    assert queue_page(queue_db, QueueFilter(status="validated"), now=NOW).total == 1
    assert queue_page(queue_db, QueueFilter(status=None), now=NOW).total == 60
    assert queue_page(queue_db, QueueFilter(), now=NOW).total == 59
    assert next_pending(queue_db) == "Q-000001"
    assert next_pending(queue_db, after="Q-000001") == "Q-000002"


def test_queue_on_the_real_batch_output(night_db):
    page = queue_page(night_db, QueueFilter())
    assert page.total == 2 and page.overdue == 2  # footage from 2016: long past the 14 days
    assert all(r.camera_id == "SZ-BUSLANE-01" and r.seen.startswith("2016-03-18") for r in page.rows)


# --- decisions -------------------------------------------------------------------------------

def test_validate_and_reject_are_recorded_and_audited(night_db):
    first, second = (r.id for r in queue_page(night_db, QueueFilter()).rows)
    assert decisions.validate(night_db, first, JO, plate="AB12CDE").ok  # the batch read no plate: keyed in
    outcome = decisions.reject(night_db, second, AL, "not_driving_in_lane", "turning left into the depot")
    assert outcome.ok, outcome.message
    rows = night_db.query("SELECT id, status FROM contraventions ORDER BY id")
    assert {r["id"]: r["status"] for r in rows} == {first: "validated", second: "rejected"}
    recorded = night_db.query('SELECT contravention_id, officer, action, reason_code, note FROM decisions ORDER BY id')
    assert recorded == [
        {"contravention_id": first, "officer": "jo", "action": "validate", "reason_code": None, "note": None},
        {"contravention_id": second, "officer": "al", "action": "reject", "reason_code": "not_driving_in_lane",
         "note": "turning left into the depot"},
    ]
    audited = night_db.query("SELECT actor, action, entity_id FROM audit_log WHERE action LIKE 'review.%' ORDER BY id")
    assert [(a["actor"], a["action"]) for a in audited] == [
        ("jo", "review.plate_corrected"), ("jo", "review.validate"), ("al", "review.reject")]


def test_second_decision_on_a_case_is_refused_and_not_recorded(night_db):
    case = next_pending(night_db)
    assert decisions.validate(night_db, case, JO, plate="AB12CDE").ok
    refused = decisions.reject(night_db, case, AL, "duplicate")
    assert not refused.ok
    assert f"{case} was already validated by jo at 20" in refused.message and "not recorded" in refused.message
    assert night_db.query("SELECT count(*) AS n FROM decisions")[0]["n"] == 1
    assert night_db.query("SELECT status FROM contraventions WHERE id = ?", [case])[0]["status"] == "validated"


def test_reject_needs_a_known_reason_and_a_note_for_other(night_db):
    case = next_pending(night_db)
    assert "unknown reason" in decisions.reject(night_db, case, JO, "felt like it").message
    assert "note" in decisions.reject(night_db, case, JO, "other", "  ").message
    assert night_db.query("SELECT count(*) AS n FROM decisions")[0]["n"] == 0
    assert decisions.reject(night_db, case, JO, "other", "camera knocked, lane not visible").ok


def test_only_a_supervisor_reopens_and_history_is_kept(night_db):
    case = next_pending(night_db)
    decisions.reject(night_db, case, JO, "duplicate")
    assert "only a supervisor" in decisions.reopen(night_db, case, AL, "wrong").message
    assert "note" in decisions.reopen(night_db, case, SAM, "").message
    assert decisions.reopen(night_db, case, SAM, "not a duplicate: different vehicle").ok
    assert night_db.query("SELECT status FROM contraventions WHERE id = ?", [case])[0]["status"] == "pending"
    assert "no decision to reopen" in decisions.reopen(night_db, case, SAM, "again").message
    assert decisions.validate(night_db, case, AL, plate="AB12CDE").ok
    assert [h.what for h in history(night_db, case)] == [
        "rejected: Duplicate", "reopened - not a duplicate: different vehicle",
        "plate corrected (none) -> AB12CDE (current; no whitelist imported)", "validated"]
    assert [h.officer for h in history(night_db, case)] == ["jo", "sam", "al", "al"]


def test_reject_with_a_whitelist_flag_is_one_transaction(night_db):
    case = next_pending(night_db)
    bad = decisions.reject(night_db, case, JO, "permitted_not_whitelisted",
                           flag=decisions.GapFlag("!!", "bus", "relief bus"))
    assert not bad.ok and "nothing recorded" in bad.message
    assert night_db.query("SELECT status FROM contraventions WHERE id = ?", [case])[0]["status"] == "pending"
    good = decisions.reject(night_db, case, JO, "permitted_not_whitelisted", "route 42 relief",
                            flag=decisions.GapFlag("bx12 bus", "bus", "route 42 relief"))
    assert good.ok and "BX12BUS flagged" in good.message
    export = gaps.gaps_export(night_db)
    assert [(g.plate, g.category, g.contravention_id, g.flagged_by) for g in export.gaps] == [
        ("BX12BUS", "bus", case, "jo")]
    assert export.csv.splitlines()[1].startswith(f"{export.gaps[0].id},BX12BUS,bus,route 42 relief,{case},jo,")


# --- plate corrections -----------------------------------------------------------------------

def test_plate_correction_checks_uk_format_and_whitelist(night_db):
    case = next_pending(night_db)
    import_list(night_db, "plate,category,operator,valid_from,valid_to,source,notes\n"
                          "OY09FEU,bus,Northway Buses,2016-01-01,,fleet,\n")
    near = corrections.correct_plate(night_db, case, JO, "0Y09 FEV")
    assert near.ok and near.plate == "OY09FEV" and near.format == "current" and not near.whitelisted
    assert "possible whitelisted vehicle: OY09FEU" in near.message
    exact = corrections.correct_plate(night_db, case, JO, "oy09feu")
    assert exact.whitelisted and "whitelisted: OY09FEU (bus, Northway Buses)" in exact.message
    foreign = corrections.correct_plate(night_db, case, JO, "RK099AN")
    assert foreign.ok and foreign.format == "unknown" and "no UK format" in foreign.message
    assert not corrections.correct_plate(night_db, case, JO, "?").ok
    row = night_db.query("SELECT plate, plate_format, whitelist_version FROM contraventions WHERE id = ?", [case])[0]
    assert row == {"plate": "RK099AN", "plate_format": "unknown", "whitelist_version": 1}
    stored = night_db.query("SELECT officer, old, new, format, whitelist_result FROM plate_corrections ORDER BY id")
    assert [(s["old"], s["new"]) for s in stored] == [(None, "OY09FEV"), ("OY09FEV", "OY09FEU"), ("OY09FEU", "RK099AN")]
    assert stored[1]["whitelist_result"] == "whitelisted: OY09FEU (bus, Northway Buses)"
    assert night_db.query("SELECT count(*) AS n FROM audit_log WHERE action = 'review.plate_corrected'")[0]["n"] == 3


def test_a_decided_case_plate_is_not_corrected(night_db):
    case = next_pending(night_db)
    assert decisions.validate(night_db, case, JO, plate="AB12CDE").ok
    assert "only a pending case" in corrections.correct_plate(night_db, case, AL, "AB12CDE").message


# --- no wrong decision by accident ----------------------------------------------------------

def test_validate_needs_a_plate_and_an_unread_plate_is_keyed_in_with_the_decision(night_db, tmp_path):
    case = next_pending(night_db)
    refused = decisions.validate(night_db, case, JO)
    assert not refused.ok and "has no plate" in refused.message and "Nothing recorded" in refused.message
    assert not decisions.validate(night_db, case, JO, plate="?").ok  # not a plate: nothing recorded either
    assert night_db.query("SELECT count(*) AS n FROM decisions")[0]["n"] == 0
    assert night_db.query("SELECT count(*) AS n FROM plate_corrections")[0]["n"] == 0
    done = decisions.validate(night_db, case, JO, plate="0Y09 FEU")
    assert done.ok and done.message == f"{case} validated; plate (none) -> OY09FEU keyed in"
    assert night_db.query("SELECT status, plate FROM contraventions WHERE id = ?", [case]) == [
        {"status": "validated", "plate": "OY09FEU"}]
    assert night_db.query("SELECT officer, old, new FROM plate_corrections") == [
        {"officer": "jo", "old": None, "new": "OY09FEU"}]
    loaded = load_case(night_db, case, tmp_path)
    assert (loaded.plate, loaded.plate_keyed_by) == ("OY09FEU", "jo")


def test_a_plate_keyed_in_on_a_case_someone_else_decided_is_not_recorded(night_db):
    case = next_pending(night_db)
    assert decisions.reject(night_db, case, AL, "duplicate").ok
    late = decisions.validate(night_db, case, JO, plate="AB12CDE")
    assert not late.ok and "already rejected by al" in late.message
    assert night_db.query("SELECT count(*) AS n FROM plate_corrections")[0]["n"] == 0


def test_validating_a_whitelisted_or_nearly_whitelisted_plate_needs_that_entry_confirmed(night_db):
    exact_case, near_case = (r.id for r in queue_page(night_db, QueueFilter()).rows)
    import_list(night_db, "plate,category,operator,valid_from,valid_to,source,notes\n"
                          "OY09FEU,bus,Northway Buses,2016-01-01,,fleet,\n")
    refused = decisions.validate(night_db, exact_case, JO, plate="oy09 feu")
    assert not refused.ok and refused.confirm == "whitelisted: OY09FEU (bus, Northway Buses)"
    assert refused.confirm in refused.message
    assert not decisions.validate(night_db, exact_case, JO, plate="OY09FEU", confirmed="whitelisted").ok
    assert night_db.query("SELECT count(*) AS n FROM plate_corrections")[0]["n"] == 0  # rolled back with it
    assert decisions.validate(night_db, exact_case, JO, plate="OY09FEU", confirmed=refused.confirm).ok

    assert corrections.correct_plate(night_db, near_case, JO, "OY09FEV").ok
    near = decisions.validate(night_db, near_case, JO)
    assert not near.ok and "possible whitelisted vehicle: OY09FEU" in near.confirm
    assert decisions.validate(night_db, near_case, JO, confirmed=near.confirm).ok
    assert night_db.query("SELECT count(*) AS n FROM decisions")[0]["n"] == 2


def test_one_passage_one_notice_a_second_case_of_a_validated_plate_on_the_camera_needs_it_confirmed(night_db, tmp_path):
    # The night's two riders, 41 s apart on one camera, keyed in as one plate: as if one passage
    # had been recorded twice.
    first, second = (r.id for r in queue_page(night_db, QueueFilter()).rows)
    assert decisions.validate(night_db, first, JO, plate="LK17ABC").ok
    case = load_case(night_db, second, tmp_path)
    assert case.repeats == ()  # its plate is not read yet
    refused = decisions.validate(night_db, second, AL, plate="lk17 abc")
    assert not refused.ok and refused.confirm.startswith(f"case {first} (validated), same plate on this camera")
    assert refused.confirm.endswith("s before this one") and "'Duplicate'" in refused.message
    assert night_db.query("SELECT count(*) AS n FROM plate_corrections WHERE contravention_id = ?", [second]) == [{"n": 0}]
    assert corrections.correct_plate(night_db, second, AL, "LK17ABC").ok
    (repeat,) = load_case(night_db, second, tmp_path).repeats
    assert (repeat.case_id, repeat.status, repeat.earlier) == (first, "validated", True) and 30 < repeat.apart_s < 60
    assert [r.case_id for r in load_case(night_db, first, tmp_path).repeats] == [second]  # listed both ways
    assert decisions.reject(night_db, second, AL, "duplicate").ok  # the usual answer
    assert load_case(night_db, first, tmp_path).repeats == ()  # a rejected case is no longer listed

    # Another plate, or a confirmation naming the earlier case, validates.
    assert decisions.reopen(night_db, second, SAM, "a second passage after all").ok
    again = decisions.validate(night_db, second, AL)
    assert not again.ok
    assert decisions.validate(night_db, second, AL, confirmed=again.confirm).ok
    assert history(night_db, second)[-1].what == f"validated - confirmed: {again.confirm}"  # on record for the adjudicator


def test_same_plate_cases_within_the_window_are_named_together_with_a_whitelist_entry(tmp_path):
    store = Store(tmp_path / "repeats.duckdb")
    fill(store, 4, now=NOW, cameras=1, prefix="R")
    t0 = NOW - timedelta(hours=1)
    starts = {"R-000000": t0,                                    # seen for 2 s, like every case here
              "R-000001": t0 + timedelta(minutes=15, seconds=1),  # 14 min 59 s after R0 ends
              "R-000002": t0 + timedelta(minutes=15, seconds=5),  # 15 min 3 s after R0, 2 s after R1
              "R-000003": t0 + timedelta(seconds=1)}              # beside R0
    with store.transaction() as con:  # one plate on one camera
        for case, start in starts.items():
            con.execute("UPDATE contraventions SET plate = 'AB12CDE', first_seen = ?, last_seen = ? WHERE id = ?",
                        [start, start + timedelta(seconds=2), case])
    r0 = "case R-000000 (validated), same plate on this camera"
    assert decisions.validate(store, "R-000000", JO).ok
    with store.transaction() as con:  # a validated half of a passage joined later still holds its notice
        con.execute("UPDATE contraventions SET superseded_by = 'R-joined' WHERE id = 'R-000000'")
    assert decisions.validate(store, "R-000001", JO).confirm == f"{r0} 899.0 s before this one"
    assert decisions.validate(store, "R-000002", JO).ok  # 15 min 3 s: outside; R1, pending, stops nothing
    assert decisions.validate(store, "R-000003", JO).confirm == f"{r0} at the same time as this one"

    import_list(store, "plate,category,operator,valid_from,valid_to,source,notes\n"
                       "AB12CDF,bus,Northway Buses,2020-01-01,,fleet,\n")
    with store.transaction() as con:
        con.execute("UPDATE contraventions SET plate = NULL WHERE id = 'R-000001'")
    both = decisions.validate(store, "R-000001", JO, plate="AB12CDE")  # keyed in: checked against the list too
    near, *cases = both.confirm.split("; ")
    assert near.startswith("possible whitelisted vehicle: AB12CDF")
    assert cases == [f"{r0} 899.0 s before this one",
                     "case R-000002 (validated), same plate on this camera 2.0 s after this one"]
    assert decisions.validate(store, "R-000001", JO, plate="AB12CDE", confirmed=both.confirm).ok


def test_a_correction_that_changes_nothing_is_refused(night_db):
    case = next_pending(night_db)
    assert corrections.correct_plate(night_db, case, JO, "LK17ABC").ok
    for same in ("LK17ABC", "lk17 abc", " LK17-ABC "):
        again = corrections.correct_plate(night_db, case, JO, same)
        assert not again.ok and "already LK17ABC" in again.message
    assert night_db.query("SELECT old, new FROM plate_corrections") == [{"old": None, "new": "LK17ABC"}]
    assert decisions.validate(night_db, case, JO, plate="lk17abc").ok  # the same plate validates, no correction
    assert night_db.query("SELECT count(*) AS n FROM plate_corrections")[0]["n"] == 1


def test_a_whitelisted_plate_is_no_gap_and_a_second_flag_adds_to_the_open_gap(night_db):
    first, second = (r.id for r in queue_page(night_db, QueueFilter()).rows)
    import_list(night_db, "plate,category,operator,valid_from,valid_to,source,notes\n"
                          "OY09FEU,emergency,County Ambulance,2016-01-01,,fleet,\n")
    listed = gaps.flag(night_db, first, JO, "oy09 feu", "emergency", "blue lights")
    assert not listed.ok and "OY09FEU is on the whitelist" in listed.message
    refused = decisions.reject(night_db, first, JO, "permitted_not_whitelisted",
                               flag=decisions.GapFlag("OY09FEU", "emergency"))
    assert not refused.ok and "on the whitelist" in refused.message
    assert gaps.flag(night_db, first, JO, "BX12BUS", "bus", "route 42 relief").ok
    again = gaps.flag(night_db, second, AL, "bx12 bus", "bus", "same bus, later")
    assert again.ok and "already has an open gap" in again.message
    (gap,) = gaps.gaps_export(night_db).gaps
    assert gap.plate == "BX12BUS" and gap.contravention_id == first
    assert gap.note == f"route 42 relief; also {second} (al): same bus, later"
    assert night_db.query("SELECT status FROM contraventions ORDER BY id") == [{"status": "pending"}] * 2


def test_next_and_previous_case_follow_the_queue(queue_db):
    assert neighbour(queue_db, "Q-000001", 1) == "Q-000002"
    assert neighbour(queue_db, "Q-000001", -1) == "Q-000000"
    assert neighbour(queue_db, "Q-000000", -1) is None
    assert decisions.validate(queue_db, "Q-000001", JO).ok
    assert neighbour(queue_db, "Q-000001", 1) == "Q-000002"  # from a case just decided, too


# --- case, dashboard, handover ---------------------------------------------------------------

def test_case_without_evidence_yet(night_db, tmp_path):
    (tmp_path / "evidence").mkdir()
    move_root(night_db, tmp_path / "evidence")  # the database's recorded root, as if its folders were lost
    case = load_case(night_db, next_pending(night_db), tmp_path / "evidence")
    assert case.evidence.review is None and case.evidence.folder == (
        tmp_path / "evidence" / "SZ-BUSLANE-01" / "2016-03-18" / case.id)
    assert case.seconds_in_lane > 0 and case.distance_px > 0 and case.in_force and case.reason


def test_case_with_the_evidence_the_batch_wrote(night, night_db):
    case = load_case(night_db, next_pending(night_db), night["evidence"])
    ev = case.evidence
    assert ev.review.name == "review.mp4" and ev.overview.is_file() and ev.closeup.is_file() and not ev.deleted


def test_the_case_says_how_far_it_drove_in_metres_when_calibrated_else_in_pixels_of_the_lane(night, night_db):
    case_id = next_pending(night_db)
    plain = load_case(night_db, case_id, night["evidence"])
    centreline = np.asarray(load_site(BUS_LANE_SITE).centreline, float)  # the site the batch used, uncalibrated
    share = abs(plain.distance_px) / np.linalg.norm(np.diff(centreline, axis=0), axis=1).sum()
    said = plain.travelled()
    assert said.startswith(f"drove {abs(plain.distance_px):.0f} px, {share:.0%} of its length, along the lane in "
                           f"{plain.seconds_in_lane:.1f} s") and "not calibrated to metres" in said, said
    with night_db.transaction() as con:  # as the batch stores it on a calibrated site
        con.execute("UPDATE lane_passages SET distance_m = 42.3 WHERE id ="
                    " (SELECT passage_id FROM contraventions WHERE id = ?)", [case_id])
    calibrated = load_case(night_db, case_id, night["evidence"])
    assert calibrated.travelled() == f"drove 42 m along the bus lane in {plain.seconds_in_lane:.1f} s"


def test_a_decided_case_says_when_against_its_review_deadline(night_db):
    case_id = next_pending(night_db)
    assert load_case(night_db, case_id, Path("unused")).decided() is None
    assert decisions.reject(night_db, case_id, JO, "duplicate").ok
    assert decisions.reopen(night_db, case_id, SAM, "wrong case").ok
    assert decisions.validate(night_db, case_id, JO, plate="AB51CDE").ok
    case = load_case(night_db, case_id, Path("unused"))
    (first,) = night_db.query("SELECT min(\"at\") AS at FROM decisions WHERE contravention_id = ?", [case_id])
    days = days_left(case.review_deadline, first["at"])  # the first decision: a reopen does not change it
    assert days < 0  # the footage is from 2016, decided today
    assert case.decided() == describe_decided(case.review_deadline, first["at"]) == (
        f"decided {-days} days after the review deadline (late)")


def test_dashboard_counts(queue_db):
    decisions.validate(queue_db, "Q-000000", JO)
    decisions.reject(queue_db, "Q-000001", JO, "duplicate")
    decisions.validate(queue_db, "Q-000002", AL)
    d = dashboard(queue_db, now=NOW)
    bands = dict(d.pending_by_band)
    assert list(bands) == ["overdue", "0-2 days", "3-7 days", "8-14 days"]
    assert sum(bands.values()) == 57 and bands["overdue"] == d.overdue > 0
    assert sorted((officer, n) for _, officer, n in d.decisions) == [("al", 1), ("jo", 2)]
    assert sum(n for _, _, n in d.per_camera_hour) == 60 and {c for c, _, _ in d.per_camera_hour} == {
        f"Q-CAM{i}" for i in range(5)}


def test_handover_shows_outstanding_work_and_notes(night_db):
    gaps.flag(night_db, None, JO, "BX12BUS", "bus", "seen twice on route 42")
    assert handover.add_note(night_db, JO, "   ") is None
    handover.add_note(night_db, JO, "camera 1 wiper stuck; ticket raised")
    h = handover.handover(night_db)
    assert (h.pending, h.overdue) == (2, 2)
    assert [g.plate for g in h.gaps] == ["BX12BUS"]
    assert [n.note for n in h.notes] == ["camera 1 wiper stuck; ticket raised"]
    assert [c.camera_id for c in h.faulty_cameras] == ["SZ-BUSLANE-01"]  # the night has a failed and a 4 fps file


def test_an_undecided_vote_offers_the_readers_readings_and_a_pick_is_a_correction(queue_db, tmp_path):
    case = "Q-000000"
    readings = [{"text": "MT456BJ", "reads": 2, "score": 1.6}, {"text": "MT4568J", "reads": 2, "score": 1.4},
                {"text": "MT45BBJ", "reads": 1, "score": 0.5}]
    with queue_db.transaction() as con:
        con.execute("UPDATE lane_passages SET plate_alternatives = ? WHERE id = "
                    "(SELECT passage_id FROM contraventions WHERE id = ?)", [json.dumps(readings), case])
        con.execute("UPDATE contraventions SET plate = 'MT456BJ', plate_status = 'low_confidence',"
                    " plate_country = 'Poland', plate_country_confidence = 0.91 WHERE id = ?", [case])
    loaded = load_case(queue_db, case, tmp_path)
    assert (loaded.plate_country, loaded.plate_country_confidence) == ("Poland", 0.91)
    offered = corrections.choices(loaded.plate, loaded.plate_status, loaded.plate_alternatives)
    assert [(c.text, c.reads) for c in offered] == [("MT4568J", 2), ("MT45BBJ", 1)]
    assert corrections.choices("MT456BJ", "read", readings[:1]) == ()  # decisive: nothing to pick
    picked = corrections.pick_alternative(queue_db, case, JO, "MT4568J")
    assert picked.ok and picked.plate == "MT4568J"  # as read: the format rules do not touch it again
    assert queue_db.query("SELECT old, new FROM plate_corrections") == [{"old": "MT456BJ", "new": "MT4568J"}]
    assert not corrections.pick_alternative(queue_db, case, JO, "AB12CDE").ok  # not one of its readings
