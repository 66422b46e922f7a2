"""The case page with the keyboard alone, in headless Chromium at 1366x768.

An officer decides 20 cases: `V` on clear cases (one key), `R` and a digit on others (two keys, no
Enter), `P`, a plate and `V` on unread plates; each decision is checked in the database and the next
case opens. Enter with no reason picked decides nothing, nor does Enter in a text box, keys after P
stay the plate's when the box loses the cursor, Validate without a plate is refused, the Validate
control is in the viewport without scrolling (also at 1920x1080), and the review copy plays on
across an action. The 20 cases are copies of the night's
real cases (rows and evidence), not 20 batch runs. Seconds per decision are printed.
"""

from __future__ import annotations

import time

import pytest

from pipeline.store import Store
from review_app.services.users import UsersFile
from tests.reviewapp import launch, needs_chromium, private_night, serve, settled, sign_in_form
from tests.test_review_e2e import SCREENSHOTS

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium

CASES = 20
VIEWPORT = {"width": 1366, "height": 768}


def kind(i: int) -> str:
    """What case i of the copies needs: 'clear' (a plate read: V), 'unread' (P, plate, V) or 'reject'."""
    return ("unread", "clear", "clear", "reject")[i % 4]


def copy_cases(store: Store, n: int = CASES) -> list[str]:
    """`n` pending copies of the database's first real case (its rows and recorded evidence), due a day
    before it so that they head the queue; returns their ids in queue order."""
    source = store.query("SELECT id, passage_id FROM contraventions ORDER BY id LIMIT 1")[0]
    ids = [f"{source['id']}-K{i:02d}" for i in range(n)]
    with store.transaction() as con:
        for i, new in enumerate(ids):
            passage = f"{source['passage_id']}-K{i:02d}"
            plate = None if kind(i) == "unread" else f"AB{51 + i}CDE"
            con.execute("INSERT INTO lane_passages SELECT * REPLACE (? AS id) FROM lane_passages WHERE id = ?",
                        [passage, source["passage_id"]])
            con.execute(
                "INSERT INTO contraventions SELECT * REPLACE (? AS id, ? AS passage_id, 'pending' AS status,"
                " ? AS plate, 'read' AS plate_status, NULL AS whitelist_entry, NULL AS whitelist_near_miss,"
                " review_deadline - INTERVAL 1 DAY + ? * INTERVAL 1 MINUTE AS review_deadline)"
                " FROM contraventions WHERE id = ?",
                [new, passage, plate, i, source["id"]],
            )
            for table in ("evidence_cases", "evidence_files"):
                con.execute(f"INSERT INTO {table} SELECT * REPLACE (? AS contravention_id) FROM {table}"
                            " WHERE contravention_id = ?", [new, source["id"]])
    return ids


@pytest.fixture
def keyboard_app(night, tmp_path):
    store, users = private_night(night, tmp_path), tmp_path / "users.yaml"
    ids = copy_cases(store)
    UsersFile(users).add("jo", "officer", "jo-password")
    with serve(store.path, users, tmp_path / "evidence") as url:
        yield {"url": url, "store": store, "ids": ids}


def status(store: Store, case_id: str) -> dict:
    row = store.query("SELECT c.status, c.plate, d.action, d.reason_code, d.officer FROM contraventions c"
                      " LEFT JOIN decisions d ON d.contravention_id = c.id WHERE c.id = ?", [case_id])
    return row[0]


def test_an_officer_decides_20_cases_with_the_keyboard_alone(keyboard_app):
    url, store, ids = keyboard_app["url"], keyboard_app["store"], keyboard_app["ids"]
    with playwright.sync_playwright() as p:
        browser = launch(p, "--autoplay-policy=no-user-gesture-required")
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(30_000)
            page.goto(url)
            sign_in_form(page, "jo", "jo-password")
            page.get_by_role("heading", name="Review queue").wait_for()
            page.get_by_role("button", name="Review the most urgent case").click()
            heading(page, ids[0]).wait_for()
            settled(page)
            press = page.keyboard.press

            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "review_case_1366x768.png"))
            # The Validate control is in the viewport as the page opens, without scrolling.
            box = page.get_by_role("button", name="Validate (V)").bounding_box()
            assert page.evaluate("window.scrollY") == 0
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], box
            page.set_viewport_size({"width": 1920, "height": 1080})
            box = page.get_by_role("button", name="Validate (V)").bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= 1080, box
            page.set_viewport_size(VIEWPORT)

            # The review copy plays, and plays on from where it was across an action on the page.
            player = page.frame_locator('iframe[title*="buslane_player"]')
            video = player.locator("video")
            video.evaluate("v => v.play()")
            player.locator("body").evaluate(
                "b => new Promise(r => { const v = b.querySelector('video');"
                " const go = () => v.currentTime > 1 ? r() : setTimeout(go, 50); go(); })")
            before = video.evaluate("v => v.currentTime")
            page.mouse.click(5, 5)  # the page has the focus, not a box
            press("r")  # an action: the reject panel opens (a rerun)
            page.get_by_text("Reject: reason (1-9)").wait_for()
            settled(page)
            after = video.evaluate("v => v.currentTime")
            assert after >= before and not video.evaluate("v => v.paused"), (before, after)
            press("Space")
            assert video.evaluate("v => v.paused")
            frame = int(player.locator("body").evaluate("b => b.dataset.frame"))
            press("ArrowRight")
            player.locator(f'body[data-frame="{frame + 1}"]').wait_for()
            assert f"footage frame {frame + 1}" in player.locator("#where").inner_text()

            # Enter with no reason picked decides nothing.
            confirm = page.get_by_role("button", name="Confirm reject (Enter)")
            playwright.expect(confirm).to_be_disabled()
            press("Enter")
            settled(page)
            assert decided(store, ids) == 0 and page.get_by_text("Reject: reason (1-9)").is_visible()

            # Enter in any text box decides nothing, even with a reason picked (with the mouse: a digit decides).
            page.get_by_text("4 · Not driving in the lane").click()
            playwright.expect(confirm).to_be_enabled()
            page.get_by_label("Note (required for Other; also kept with a flag)").click()
            page.keyboard.type("vrnb 8")  # keys that are shortcuts elsewhere, a reason's digit too, stay in the box
            press("Enter")
            press("p")
            page.keyboard.type("AB00CDE")
            press("Enter")
            settled(page)
            assert decided(store, ids) == 0
            assert page.get_by_label("Note (required for Other; also kept with a flag)").input_value() == "vrnb 8"
            plate_box = page.get_by_label("Plate box (P): key in or correct the plate; Validate uses it")
            plate_box.fill("")
            press("Escape")

            # After P the keys are the plate's even when the box loses the cursor (the page re-draws
            # it as a run finishes): V, R and 8 would otherwise reject case 0 as a duplicate, and
            # Enter would confirm the reason picked above.
            press("p")
            playwright.expect(plate_box).to_be_focused()
            plate_box.evaluate("b => b.blur()")
            page.keyboard.type("vr8")
            press("Enter")
            settled(page)
            assert decided(store, ids) == 0 and plate_box.input_value() == "vr8"
            plate_box.fill("")
            press("Escape")

            # Validate without a plate is refused (case 0 has no plate read).
            press("v")
            page.get_by_text("has no plate: key it in (P)").wait_for()
            settled(page)
            assert decided(store, ids) == 0

            times = []
            for i, case_id in enumerate(ids):
                began = time.perf_counter()
                if kind(i) == "unread":
                    press("p")
                    # As the officer sees the cursor in the box before typing: under load the key's
                    # script can take a moment, and keys typed before it land on the page instead.
                    playwright.expect(plate_box).to_be_focused()
                    page.keyboard.type(f"ab{51 + i} cde")
                    press("Enter")
                    settled(page)  # the box's value reaches the server before V reads it
                    press("v")
                elif kind(i) == "clear":
                    press("v")
                else:
                    press("r")
                    page.get_by_text("Reject: reason (1-9)").wait_for()  # as the officer sees the reasons
                    settled(page)
                    press("8")  # Duplicate: recorded at once, no Enter
                following = ids[i + 1] if i + 1 < len(ids) else None
                if following:
                    heading(page, following).wait_for()
                    settled(page)  # as the officer waits to see the case before deciding it
                else:
                    page.get_by_role("heading", name=f"Case {case_id}", exact=True).wait_for(state="detached")
                times.append(time.perf_counter() - began)
                got = status(store, case_id)
                expected = ({"status": "rejected", "action": "reject", "reason_code": "duplicate"}
                            if kind(i) == "reject" else
                            {"status": "validated", "action": "validate", "plate": f"AB{51 + i}CDE"})
                assert {k: got[k] for k in expected} == expected and got["officer"] == "jo", (i, got)
            print(f"\nkeyboard alone: {len(times)} decisions, {sum(times) / len(times):.2f} s per decision "
                  f"(min {min(times):.2f}, max {max(times):.2f})")
            keyed = {r["contravention_id"] for r in store.query("SELECT contravention_id FROM plate_corrections")}
            assert keyed & set(ids) == {c for i, c in enumerate(ids) if kind(i) == "unread"}  # only the unread
        finally:
            browser.close()


def decided(store: Store, ids: list[str]) -> int:
    return store.query(f"SELECT count(*) AS n FROM decisions WHERE contravention_id IN ({', '.join('?' * len(ids))})",
                       ids)[0]["n"]


def heading(page, case_id: str):
    return page.get_by_role("heading", name=f"Case {case_id}", exact=True)

