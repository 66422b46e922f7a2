"""End to end in headless Chromium: `buslane review` serving a copy of the night's database.

Sign in, open the most urgent case, watch the review copy play, reject it as a permitted vehicle
missing from the whitelist with a flag; the case leaves the queue and the gap is on the gaps page.
One plate validated twice on a camera needs the first case confirmed by name.
A screenshot of the case page is kept in var/screenshots/ for people to look at.
"""

from __future__ import annotations

import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.models import PROJECT_ROOT
from pipeline.store import Store
from review_app.services.cases import load_case
from review_app.services.queue import next_pending
from review_app.services.users import UsersFile
from tests.reviewapp import launch, needs_chromium, serve, sign_in_form

playwright = pytest.importorskip("playwright.sync_api")
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
pytestmark = needs_chromium


@pytest.fixture
def running_app(night, tmp_path):
    """The app on a free port, over a copy of the night's database and the evidence the batch wrote."""
    db, root, users = tmp_path / "night.duckdb", night["evidence"], tmp_path / "users.yaml"
    shutil.copy(night["db"], db)
    store = Store(db)
    case_id = next_pending(store)
    assert load_case(store, case_id, root).evidence.review, "the batch wrote no review copy for the case"
    UsersFile(users).add("jo", "officer", "jo-password")
    with serve(db, users, root) as url:
        yield {"url": url, "db": db, "case_id": case_id}


def test_officer_rejects_a_case_with_a_whitelist_flag_in_chromium(running_app, tmp_path):
    url, case_id = running_app["url"], running_app["case_id"]
    with signed_in_page(url, 1400, 1900) as page:
        page.get_by_role("heading", name="Review queue").wait_for()
        playwright.expect(metric(page, "Matching cases")).to_have_text("2")  # retried while the page settles

        page.get_by_role("button", name="Review the most urgent case").click()
        page.get_by_role("heading", name=f"Case {case_id}").wait_for()
        video = page.frame_locator('iframe[title*="buslane_player"]').locator("video")
        video.evaluate("v => new Promise(r => { const go = () => v.readyState >= 2 ? r() : setTimeout(go, 50); go(); })")
        video.evaluate("v => v.play()")  # autoplay is on (muted); play() makes sure
        start = video.evaluate("v => v.currentTime")
        video.evaluate(f"v => new Promise(r => {{ const go = () => v.currentTime > {start} + 0.5 ? r() : setTimeout(go, 50); go(); }})")
        assert video.evaluate("v => v.readyState") >= 2 and not video.evaluate("v => v.error")
        shot = tmp_path / "review_case.png"
        page.screenshot(path=str(shot), full_page=True)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOTS / "review_case.png")

        page.get_by_role("button", name="Reject (R)").click()
        page.get_by_text("1 · Permitted vehicle not on the whitelist").click()
        page.get_by_text("Also flag it as a permitted vehicle missing from the whitelist").click()
        page.get_by_label("Vehicle category").click()
        page.get_by_role("option", name="bus", exact=True).click()
        page.get_by_label("Plate to flag").fill("BX12BUS")
        page.get_by_label("Note (required for Other; also kept with a flag)").fill("route 42 relief bus")
        page.get_by_role("button", name="Confirm reject (Enter)").click()
        page.get_by_text(f"{case_id} rejected (Permitted vehicle not on the whitelist); BX12BUS flagged").wait_for()

        page.get_by_text("Queue", exact=True).click()
        page.get_by_role("heading", name="Review queue").wait_for()
        playwright.expect(metric(page, "Matching cases")).to_have_text("1")

        page.get_by_text("Whitelist gaps", exact=True).click()
        page.get_by_role("heading", name="Permitted vehicles missing from the whitelist").wait_for()
        with page.expect_download() as download:
            # The button lives in the download component's frame: the file comes over the session's websocket.
            # (the queue page's frame may linger a moment: the last one is this page's)
            page.frame_locator('iframe[title*="buslane_download"]').last.get_by_role(
                "button", name="Download CSV (1 open gaps)").click()
        csv = Path(download.value.path()).read_text()
    assert csv.splitlines()[0] == "id,plate,category,note,contravention_id,flagged_by,flagged_at"
    assert f"BX12BUS,bus,route 42 relief bus,{case_id},jo," in csv
    store = Store(running_app["db"])
    assert store.query("SELECT status FROM contraventions WHERE id = ?", [case_id])[0]["status"] == "rejected"
    assert store.query("SELECT count(*) AS n FROM audit_log WHERE action = 'review.gaps_exported'")[0]["n"] == 1


def test_a_plate_already_validated_on_the_camera_is_named_and_validated_only_once_confirmed(running_app):
    """One passage recorded as two cases (the night's two riders keyed in as one plate): the second
    validation is refused naming the first case, its page lists it, and a confirmation records it."""
    url, first = running_app["url"], running_app["case_id"]
    store = Store(running_app["db"])
    with signed_in_page(url, 1366, 768) as page:
        page.get_by_role("button", name="Review the most urgent case").click()
        page.get_by_role("heading", name=f"Case {first}").wait_for()
        plate_box = page.get_by_label("Plate box (P): key in or correct the plate; Validate uses it")
        plate_box.fill("LK17ABC")
        page.get_by_role("button", name="Validate (V)").click()
        page.get_by_text(f"{first} validated").wait_for()
        second = next_pending(store)
        page.get_by_role("heading", name=f"Case {second}").wait_for()  # the next case opened
        plate_box.fill("LK17ABC")
        page.get_by_role("button", name="Validate (V)").click()
        page.get_by_text(f"To validate, confirm: case {first} (validated), same plate on this camera").wait_for()
        assert store.query("SELECT status FROM contraventions WHERE id = ?", [second]) == [{"status": "pending"}]
        page.get_by_role("button", name="Correct plate").click()  # the case's own plate: now it lists the first
        page.get_by_role("button", name=f"Open case {first}").click()
        page.get_by_role("heading", name=f"Case {first}").wait_for()
        page.get_by_role("button", name=f"Open case {second}").click()
        page.get_by_role("heading", name=f"Case {second}").wait_for()
        page.get_by_role("button", name="Validate (V)").click()
        page.get_by_role("button", name=re.compile(r"^Validate anyway, confirming: case ")).click()
        page.get_by_text(f"{second} validated").wait_for()
    (note,) = store.query("SELECT note FROM decisions WHERE contravention_id = ?", [second])
    assert note["note"].startswith(f"confirmed: case {first} (validated), same plate on this camera")


@contextmanager
def signed_in_page(url: str, width: int, height: int):
    """A page of headless Chromium signed in as the officer jo."""
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30_000)
            page.goto(url)
            sign_in_form(page, "jo", "jo-password")
            yield page
        finally:
            browser.close()


def metric(page, label: str):
    """The value of the metric labelled `label`, as a locator (so assertions on it are retried)."""
    box = page.locator('[data-testid="stMetric"]', has_text=label)
    return box.locator('[data-testid="stMetricValue"]')
