"""The review app's pages through Streamlit's AppTest, on a copy of the batch's real database."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import review_app
from evidence.settings import move_root
from pipeline.deadlines import describe
from pipeline.store import Store
from review_app.bench import fill
from review_app.config import DB_ENV, EVIDENCE_ENV, USERS_ENV
from review_app.services.users import UsersFile
from review_app.views.common import PAGES

APP = Path(review_app.__file__).with_name("app.py")
PASSWORDS = {"jo": "jo-password", "al": "al-password", "sam": "sam-password"}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    users = UsersFile(path)
    for name, password in PASSWORDS.items():
        users.add(name, "supervisor" if name == "sam" else "officer", password)
    return path


@pytest.fixture
def db(night, tmp_path, users_file, monkeypatch) -> Path:
    """A private copy of the night's database (two real pending cases), and the app pointed at it."""
    path = tmp_path / "night.duckdb"
    shutil.copy(night["db"], path)
    monkeypatch.setenv(DB_ENV, str(path))
    monkeypatch.setenv(USERS_ENV, str(users_file))
    monkeypatch.setenv(EVIDENCE_ENV, str(night["evidence"]))
    return path


def signed_in(name: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(PASSWORDS[name])
    return click(at, "Sign in")


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def goto(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def open_case(at: AppTest, case_id: str) -> AppTest:
    goto(at, "Queue").selectbox(key="open_case_id").select(case_id)
    return click(at, "Open case")


def title(at: AppTest) -> str:
    return at.title[0].value


def pending_ids(db: Path) -> list[str]:
    rows = Store(db).query("SELECT id FROM contraventions WHERE status = 'pending' ORDER BY review_deadline, id")
    return [r["id"] for r in rows]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_needs_sign_in(db, page):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["page"] = page
    at.run()
    assert [t.value for t in at.title] == ["Bus lane review: sign in"]
    assert not at.dataframe and not at.sidebar.radio  # no page, no navigation


def test_wrong_password_is_refused_and_audited(db):
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.text_input(key="sign_in_name").input("jo")
    at.text_input(key="sign_in_password").input("al-password")
    click(at, "Sign in")
    assert title(at) == "Bus lane review: sign in" and "not recognised" in at.error[0].value
    click(signed_in("jo"), "Sign out")
    actions = [r["action"] for r in Store(db).query("SELECT action FROM audit_log WHERE entity = 'user' ORDER BY id")]
    assert actions == ["review.sign_in_failed", "review.sign_in"]


def test_queue_orders_by_deadline_and_highlights_late_and_nearly_due_cases(db):
    fill(Store(db), 30, prefix="Q")  # seen over the last 20 days: some overdue, some due soon, some not
    at = signed_in("jo")
    assert title(at) == "Review queue"
    table = at.dataframe[0].value
    days, due = list(table["Days left"]), list(table["Due"])
    assert days == sorted(days) and len(days) == 32
    assert due == [describe(d) for d in days]  # "2 days overdue", "due today", "due tomorrow", "5 days left"
    assert any(x.endswith("overdue") for x in due) and any(x.endswith("left") for x in due)
    assert list(table["Case"][:2]) == pending_ids(db)[:2] and table["Camera"][0] == "SZ-BUSLANE-01"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Overdue"] == str(sum(d < 0 for d in days)) and metrics["Due within 2 days"] == str(sum(0 <= d <= 2 for d in days))
    at.selectbox(key="queue_camera").select("Q-CAM1").run()
    assert set(at.dataframe[0].value["Camera"]) == {"Q-CAM1"}
    at.text_input(key="queue_plate").input("q2 1").run()  # Q-CAM1 has cases 1, 6, 11, 16, 21, 26
    assert list(at.dataframe[0].value["Plate"]) == ["Q21XYZ"]


def test_validate_opens_the_next_case_and_every_view_is_audited(db):
    first, second = pending_ids(db)
    at = click(signed_in("jo"), "Review the most urgent case")
    assert title(at) == f"Case {first}"
    players = [e for e in at.get("component_instance") if e.key == "review-player"]
    stills = [e for e in at.get("html") if "data:image/png;base64," in e.value]  # inline: no /media/ URL
    assert len(players) == 1 and len(stills) == 2  # the review copy and both stills
    click(at, "Validate (V)")
    assert "has no plate" in at.error[0].value and title(at) == f"Case {first}"  # the batch read none
    at.text_input(key=f"plate-{first}").input("AB51 CDE")
    click(at, "Validate (V)")
    assert at.success[0].value == f"{first} validated; plate (none) -> AB51CDE keyed in"
    assert title(at) == f"Case {second}"
    store = Store(db)
    assert store.query("SELECT status FROM contraventions WHERE id = ?", [first])[0]["status"] == "validated"
    views = store.query("SELECT actor, entity_id FROM audit_log WHERE action = 'review.case_viewed' ORDER BY id")
    assert [(v["actor"], v["entity_id"]) for v in views] == [("jo", first), ("jo", second)]
    at.text_input(key=f"plate-{second}").input("AB52CDE")
    click(at, "Validate (V)")
    assert "No pending cases" in at.info[0].value


def test_a_reasons_digit_rejects_at_once_but_a_flag_waits_for_its_category_and_plate(db):
    first, second = pending_ids(db)
    at = click(open_case(signed_in("jo"), first), "Reject (R)")
    at.button(key="reason-key-8").click().run()  # what the digit 8 presses
    assert at.success[0].value.startswith(f"{first} rejected (Duplicate)") and title(at) == f"Case {second}"
    click(at, "Flag (F)")
    at.button(key="reason-key-1").click().run()  # a flag: the digit picks the reason, nothing is decided
    assert title(at) == f"Case {second}" and at.radio(key=f"reason-{second}").value == "permitted_not_whitelisted"
    assert not at.button(key="reject-confirm").disabled
    rows = Store(db).query("SELECT contravention_id, action, reason_code FROM decisions")
    assert rows == [{"contravention_id": first, "action": "reject", "reason_code": "duplicate"}]


def test_reject_with_a_flag_and_the_gap_appears_for_download(db):
    first = pending_ids(db)[0]
    at = click(open_case(signed_in("jo"), first), "Reject (R)")
    at.radio(key=f"reason-{first}").set_value("permitted_not_whitelisted")
    at.checkbox(key=f"flag-{first}").check().run()
    at.selectbox(key=f"reject-category-{first}").select("bus")
    at.text_input(key=f"reject-plate-{first}").input("BX12 BUS")
    at.text_input(key=f"note-{first}").input("relief bus, route 42")
    click(at, "Confirm reject (Enter)")
    assert "rejected (Permitted vehicle not on the whitelist); BX12BUS flagged" in at.success[0].value
    goto(at, "Queue")
    assert first not in list(at.dataframe[0].value["Case"])
    goto(at, "Whitelist gaps")
    gaps = at.dataframe[0].value
    assert list(gaps["Plate"]) == ["BX12BUS"] and list(gaps["Case"]) == [first]
    # The audited download button (a component: clicked, and its audit row checked, in Chromium in test_review_e2e)
    button = next(e for e in at.get("component_instance") if e.key == "gaps_csv")
    assert '"label": "Download CSV (1 open gaps)"' in button.proto.json_args


def test_other_reason_needs_a_note_and_missing_evidence_is_said(db, tmp_path):
    (tmp_path / "no-evidence-here").mkdir()
    move_root(Store(db), tmp_path / "no-evidence-here")  # the database's root, as if its folders were lost
    first = pending_ids(db)[0]
    at = open_case(signed_in("jo"), first)
    assert "Evidence not yet written" in at.warning[0].value and not at.get("video")
    assert at.button(key="reject-start") and not [b for b in at.button if b.key == "reject-confirm"]
    click(at, "Reject (R)")
    assert at.radio(key=f"reason-{first}").value is None and at.button(key="reject-confirm").disabled  # none picked
    at.radio(key=f"reason-{first}").set_value("other").run()
    click(at, "Confirm reject (Enter)")
    assert "write a note" in at.error[0].value and title(at) == f"Case {first}"
    assert pending_ids(db)[0] == first


def test_the_case_page_logs_no_deprecation_of_the_shortcuts_library(db):
    """streamlit-shortcuts (latest 1.2.2) still calls components.v1.html: the page drops just that warning."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("streamlit.deprecation_util")
    logger.addHandler(handler)
    try:
        at = open_case(signed_in("jo"), pending_ids(db)[0])
    finally:
        logger.removeHandler(handler)
    assert any("__streamlitShortcutsMap" in e.proto.srcdoc for e in at.get("iframe"))  # the shortcuts are on it
    assert not [r.getMessage() for r in records if "components.v1.html" in r.getMessage()]


def test_second_officer_to_decide_is_told_and_nothing_is_recorded(db):
    first = pending_ids(db)[0]
    jo, al = open_case(signed_in("jo"), first), open_case(signed_in("al"), first)
    click(al, "Reject (R)").radio(key=f"reason-{first}").set_value("duplicate").run()
    jo.text_input(key=f"plate-{first}").input("AB51CDE")
    click(jo, "Validate (V)")
    click(al, "Confirm reject (Enter)")  # al still has the case on screen, pending
    assert f"{first} was already validated by jo at " in al.error[0].value
    assert title(al) == f"Case {first}" and al.metric[0].value == "validated"
    rows = Store(db).query("SELECT officer, action FROM decisions")
    assert rows == [{"officer": "jo", "action": "validate"}]


def test_plate_correction_from_the_case_page(db):
    first = pending_ids(db)[0]
    at = open_case(signed_in("jo"), first)
    at.text_input(key=f"plate-{first}").input("0Y09 FEU")
    click(at, "Correct plate")
    assert "-> OY09FEU (UK current format)" in at.success[0].value
    assert at.metric[2].value == "OY09FEU"
    assert any("plate corrected (none) -> OY09FEU" in w for w in at.dataframe[-1].value["What"])


def test_only_a_supervisor_can_reopen(db):
    first = pending_ids(db)[0]
    jo = open_case(signed_in("jo"), first)
    click(jo, "Reject (R)").radio(key=f"reason-{first}").set_value("duplicate").run()
    at_reject = click(jo, "Confirm reject (Enter)")
    assert "rejected" in at_reject.success[0].value
    jo = open_case(jo, pending_ids(db)[0])
    jo.session_state["case_id"] = first
    goto(goto(jo, "Queue"), "Case")
    assert title(jo) == f"Case {first}" and not [b for b in jo.button if b.label == "Reopen case"]
    sam = signed_in("sam")
    sam.session_state["case_id"] = first
    goto(sam, "Case")
    sam.text_input(key=f"reopen-note-{first}").input("plate belongs to a different vehicle")
    click(sam, "Reopen case")
    assert at_reject and sam.success[0].value == f"{first} reopened"
    assert sam.metric[0].value == "pending"
    assert list(sam.dataframe[-1].value["Officer"]) == ["jo", "sam"]
    assert Store(db).query("SELECT count(*) AS n FROM decisions")[0]["n"] == 2


def test_dashboard_and_handover(db):
    at = signed_in("sam")
    goto(at, "Dashboard")
    assert {m.label: m.value for m in at.metric} == {"Pending": "2", "Overdue": "2"}
    goto(at, "Shift handover")
    assert "CHECK CAMERA" in at.error[0].value  # the night's failed and low-frame-rate files
    at.text_area(key="handover_text").input("two cases overdue from the Shenzhen test clip")
    click(at, "Add note")
    assert any("two cases overdue" in m.value for m in at.markdown)


def test_users_add_asks_for_the_password_twice(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    users = tmp_path / "users.yaml"
    args = ["users", "add", "kim", "--role", "supervisor", "--users", str(users)]
    mismatch = CliRunner().invoke(app, args, input="first-password\nsecond-password\nkim-password\nkim-password\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output.lower()
    assert UsersFile(users).authenticate("kim", "kim-password") == UsersFile(users).users()[0]
    again = CliRunner().invoke(app, args, input="other-password\nother-password\n")
    assert again.exit_code == 2 and "already exists" in again.output


def test_benchmark_machinery_renders_the_queue(tmp_path, monkeypatch):
    from review_app.bench import render_times

    # render_times points the app at its own database and users file; both restored after
    monkeypatch.setenv(DB_ENV, "unused")
    monkeypatch.setenv(USERS_ENV, "unused")
    db = tmp_path / "bench.duckdb"
    fill(Store(db), 500)
    assert len(render_times(db, 2)) == 2


def test_the_case_page_shows_a_foreign_country_and_a_reading_is_picked_with_a_click(tmp_path, users_file,
                                                                                  monkeypatch):
    store = Store(tmp_path / "picks.duckdb")
    fill(store, 2, prefix="P")
    readings = [{"text": "YL08WUE", "reads": 2, "score": 1.5}, {"text": "VL08WUE", "reads": 2, "score": 1.3}]
    with store.transaction() as con:
        con.execute("UPDATE lane_passages SET plate_alternatives = ? WHERE id = 'P-p0'", [json.dumps(readings)])
        con.execute("UPDATE contraventions SET plate = 'YL08WUE', plate_status = 'low_confidence',"
                    " plate_country = 'Ireland', plate_country_confidence = 0.8 WHERE id = 'P-000000'")
    monkeypatch.setenv(DB_ENV, str(store.path))
    monkeypatch.setenv(USERS_ENV, str(users_file))
    monkeypatch.setenv(EVIDENCE_ENV, str(tmp_path / "evidence"))
    at = open_case(signed_in("jo"), "P-000000")
    assert any("Country Ireland (80%): not a UK plate: cannot be traced through the DVLA" in w.value
               for w in at.warning)
    click(at, "VL08WUE (2 reads)")
    assert "YL08WUE -> VL08WUE" in at.success[0].value
    assert at.metric[2].value == "VL08WUE"
