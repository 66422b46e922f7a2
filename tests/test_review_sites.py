"""The Sites page (issue 17 item 1): a supervisor draws a camera's site on a frame of its footage.

Service level: the canvas's objects and the site map onto each other exactly on a scaled canvas, a
save keeps the previous version and is audited in the hash chain. In headless Chromium against the
real app: a supervisor draws a lane polygon and a centreline with the mouse on the real canvas,
saves, and the file reloads identical through pipeline/site.py and is accepted by `buslane process`;
an officer has no Sites page and is refused one forced through the URL.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
from datetime import date

import numpy as np
import pytest
import yaml
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from pipeline.history import verify_chain
from pipeline.models import PROJECT_ROOT
from pipeline.site import SiteConfig, load_site
from pipeline.store import Store
from review_app.services import sites
from review_app.services.users import UsersFile
from tests.conftest import BUS_LANE_SITE, SHENZHEN, buslane, write_low_rate_clip
from tests.reviewapp import launch, needs_chromium, serve, settled, sign_in_form

SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
PASSWORDS = {"sam": "sam-password", "jo": "jo-password"}


def shenzhen_settings() -> dict:
    return yaml.safe_load(BUS_LANE_SITE.read_text())


# -- the canvas and the site ------------------------------------------------------------------------

def test_a_site_drawn_on_a_scaled_canvas_comes_back_to_the_same_frame_pixels():
    site = load_site(BUS_LANE_SITE)
    canvas = sites.canvas_for(640, 360)
    assert (canvas.width, canvas.height, canvas.scale_x) == (sites.DISPLAY_WIDTH, 450, 1.25)  # shown larger
    drawing = sites.site_to_drawing(sites.geometry_of(site), canvas)
    lane = drawing["objects"][0]
    assert lane["points"][0] == {"x": 568 * 1.25, "y": 360 * 1.25}  # canvas pixels, not frame pixels
    geometry = sites.drawing_to_geometry(json.loads(json.dumps(drawing)), canvas)
    drawn = site.model_copy(update={"frame_size": (640, 360)})  # the size of the frame drawn on is kept
    assert geometry == sites.geometry_of(drawn)
    assert geometry["lanes"][0][:2] == [[568, 360], [516, 240]] and len(geometry["ignore_zones"]) == 1
    settings = sites.site_dict(shenzhen_settings(), sites.form_from_site(site), geometry)
    assert sites.validate(settings) == drawn  # form and drawing together give back the very site
    assert settings["hours"]["windows"] == {"mon-fri": ["07:00-10:00", "12:00-19:00"], "sat": ["08:00-18:30"]}


def test_a_frame_of_another_size_than_the_site_was_drawn_on_is_pointed_out():
    site = load_site(BUS_LANE_SITE).model_copy(update={"frame_size": (640, 360)})
    assert sites.other_size(site, np.zeros((360, 640, 3), np.uint8)) is None
    assert sites.other_size(site.model_copy(update={"frame_size": None}), np.zeros((720, 1280, 3), np.uint8)) is None
    told = sites.other_size(site, np.zeros((720, 1280, 3), np.uint8))
    assert told.startswith("This site was drawn on 640x360 frames and this frame is 1280x720")


def test_shapes_moved_on_the_canvas_are_read_where_fabric_shows_them():
    """As Fabric.js (v6) serialises shapes drawn with the canvas's tools: a polygon has its clicked
    points and its box's corner (left/top, stroke included); a line its ends relative to its centre."""
    canvas = sites.canvas_for(1280, 720)  # shown at 0.625
    clicked = np.array([[100.0, 100.0], [300.0, 120.0], [200.0, 300.0]])
    low = clicked.min(axis=0)
    moved = (40.0, -10.0)
    polygon = {"type": "Polygon", "stroke": "#00c800", "strokeWidth": 2, "originX": "left", "originY": "top",
               "left": low[0] - 1 + moved[0], "top": low[1] - 1 + moved[1], "scaleX": 1, "scaleY": 1, "angle": 0,
               "points": [{"x": x, "y": y} for x, y in clicked]}
    line = {"type": "Line", "stroke": "#ffdc00", "strokeWidth": 2, "originX": "center", "originY": "center",
            "left": 150.0, "top": 200.0, "x1": -50.0, "y1": 100.0, "x2": 50.0, "y2": -100.0}
    # Scaled twice about its box's top-left corner: the points twice as far apart, and the stroke's
    # half-width between that corner and the points (1 px) doubled too.
    scaled = polygon | {"left": low[0] - 1, "top": low[1] - 1, "scaleX": 2, "scaleY": 2}
    geometry = sites.drawing_to_geometry({"objects": [polygon, line, scaled]}, canvas)
    assert geometry["lanes"][0] == [[(x + moved[0]) / 0.625, (y + moved[1]) / 0.625] for x, y in clicked]
    assert geometry["centreline"] == [[100 / 0.625, 300 / 0.625], [200 / 0.625, 100 / 0.625]]
    assert geometry["lanes"][1] == [list(((low + 1 + 2 * (p - low)) / 0.625).round(1)) for p in clicked]


def test_a_shape_in_no_layers_colour_is_refused_by_its_number():
    freehand = {"type": "Path", "stroke": "#000000", "path": [["M", 0, 0], ["L", 5, 5]]}
    with pytest.raises(sites.SiteError, match=r"drawing: shape 1 \(Path\)"):
        sites.drawing_to_geometry({"objects": [freehand]}, sites.canvas_for(640, 360))


def test_each_invalid_field_is_named_by_the_batchs_own_model():
    settings = sites.site_dict({}, sites.SiteForm(camera_id="CAM 1", location="x", day_windows={"mon": "7am-10am"}),
                               {"lanes": [], "centreline": [[0, 0]], "exemption_zones": [], "ignore_zones": []})
    fields = {p.field for p in sites.validate(settings)}
    assert {"camera_id", "lanes", "centreline", "hours.windows.mon.0"} <= fields
    with pytest.raises(sites.SiteError, match="hours.no_enforcement"):
        sites.site_dict({}, sites.SiteForm(no_enforcement="2026-13-01"), {})


def test_bank_holidays_come_from_the_holidays_package_and_follow_the_years():
    christmas, boxing_observed = date(2026, 12, 25), date(2026, 12, 28)
    assert {christmas, boxing_observed} <= set(sites.bank_holidays([2026]))
    road_works = date(2026, 6, 1)
    chosen = sites.follow_years([road_works], before=[], after=[2026])
    assert christmas in chosen and road_works in chosen
    assert sites.follow_years(chosen, before=[2026], after=[]) == [road_works]  # its own dates stay


# -- saving: history and audit ----------------------------------------------------------------------

def test_a_save_keeps_the_previous_version_and_is_audited_in_the_chain(tmp_path):
    store, folder = Store(tmp_path / "sites.duckdb"), tmp_path / "sites"
    first = shenzhen_settings()
    saved = sites.save_site(store, folder, "shenzhen", first, "sam", None)
    assert load_site(saved.path) == SiteConfig.model_validate(first) and saved.previous is None
    old_bytes = saved.path.read_bytes()

    changed = first | {"thresholds": {"min_seconds_in_lane": 2.5}}
    with pytest.raises(sites.SiteError, match="changed on disk since you opened it"):
        sites.save_site(store, folder, "shenzhen", changed, "sam", "0" * 64)
    with pytest.raises(sites.SiteError, match="already exists"):
        sites.save_site(store, folder, "shenzhen", changed, "sam", None)
    again = sites.save_site(store, folder, "shenzhen", changed, "sam", saved.sha256)
    assert load_site(again.path).thresholds.min_seconds_in_lane == 2.5
    assert again.previous.parent == folder / sites.HISTORY and again.previous.read_bytes() == old_bytes
    assert sites.load(folder, "shenzhen").sha256 == hashlib.sha256(again.path.read_bytes()).hexdigest()

    rows = store.query("SELECT actor, entity_id, details FROM audit_log WHERE action = 'site.saved' ORDER BY id")
    details = [json.loads(r["details"]) for r in rows]
    assert [(r["actor"], r["entity_id"]) for r in rows] == [("sam", "shenzhen")] * 2
    assert details[0]["old_sha256"] is None and details[0]["new_sha256"] == saved.sha256
    assert details[1]["old_sha256"] == hashlib.sha256(old_bytes).hexdigest() == saved.sha256
    assert details[1]["new_sha256"] == again.sha256 and details[1]["previous"] == again.previous.name
    with store.connect() as con:
        assert verify_chain(con).ok
    assert sites.list_sites(folder) == ["shenzhen"]  # the history is not a site


def test_an_invalid_site_is_not_written(tmp_path):
    store, folder = Store(tmp_path / "sites.duckdb"), tmp_path / "sites"
    with pytest.raises(sites.SiteError, match="lanes"):
        sites.save_site(store, folder, "broken", shenzhen_settings() | {"lanes": []}, "sam", None)
    assert not (folder / "broken.yaml").exists()
    assert store.query("SELECT count(*) AS n FROM audit_log WHERE action = 'site.saved'")[0]["n"] == 0


def test_names_and_paths_outside_their_folders_are_refused(tmp_path):
    folder, footage = tmp_path / "sites", tmp_path / "footage"
    footage.mkdir()
    for name in ("../escape", "sub/site", "", ".hidden"):
        with pytest.raises(sites.SiteError, match="site file name"):
            sites.site_path(folder, name)
    (footage / "outside.mp4").symlink_to(SHENZHEN)  # a link out of the footage folder
    shutil.copy(SHENZHEN, footage / "inside.mp4")
    assert sites.list_footage(footage) == ["inside.mp4"]
    for relative in ("outside.mp4", "../footage/../../etc/passwd"):
        with pytest.raises(sites.SiteError, match="footage"):
            sites.footage_path(footage, relative)
    assert sites.frame_at(sites.footage_path(footage, "inside.mp4"), 1.0).shape == (360, 640, 3)
    with pytest.raises(sites.SiteError, match="notes.png: not a PNG or JPEG"):
        sites.read_frame("notes.png", b"just some text")


# -- the real page in Chromium ----------------------------------------------------------------------

playwright = pytest.importorskip("playwright.sync_api")
LANE = [[560, 350], [360, 60], [392, 60], [630, 270]]  # frame pixels
CENTRELINE = [[600, 345], [380, 70]]


@pytest.fixture(scope="module")
def sites_app(tmp_path_factory):
    """The app over an empty database, an empty sites folder and a footage folder with a 3 s real clip."""
    folder = tmp_path_factory.mktemp("sites_app")
    footage, site_files = folder / "footage", folder / "sites"
    footage.mkdir()
    write_low_rate_clip(footage / "first.mp4", frames=75, rate=25)  # 3 s at 25 fps
    Store(folder / "app.duckdb")
    users = folder / "users.yaml"
    UsersFile(users).add("sam", "supervisor", PASSWORDS["sam"])
    UsersFile(users).add("jo", "officer", PASSWORDS["jo"])
    with serve(folder / "app.duckdb", users, folder / "evidence", "--sites", str(site_files),
               "--footage", str(footage)) as url:
        yield {"url": url, "folder": folder, "sites": site_files, "clip": footage / "first.mp4"}


@pytest.fixture
def page(sites_app):
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def signed_in(page, url: str, name: str) -> None:
    page.goto(url)
    sign_in_form(page, name, PASSWORDS[name])
    page.get_by_role("heading", name="Review queue").wait_for()


def sidebar_pages(page) -> list[str]:
    radio = page.locator('[data-testid="stSidebar"] [role="radiogroup"]')
    radio.wait_for()
    return [t.strip() for t in radio.locator("label").all_inner_texts()]


def drawing_area(page):
    """The canvas's box in the viewport, once scrolled to the middle of it (the mouse acts only in view)."""
    area = page.locator(".dc-container").first
    area.wait_for()
    area.evaluate("e => e.scrollIntoView({block: 'center'})")
    return area.bounding_box()


def on_canvas(box, point) -> tuple[float, float]:
    scale = sites.DISPLAY_WIDTH / 640
    return box["x"] + point[0] * scale, box["y"] + point[1] * scale


def click_until(page, button: str, shown, not_done, attempts: int = 3) -> None:
    """Click `button` until `shown` (a locator) appears. On an AVX-512 machine a click sometimes
    brought nothing while the canvas re-ran the page; it is repeated only while `not_done()` says the
    action has not happened, so nothing is ever done twice."""
    for attempt in range(attempts):
        settled(page)
        page.get_by_role("button", name=button).click()
        try:
            shown.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1 or not not_done():
                raise


@needs_chromium
def test_a_supervisor_draws_saves_and_the_batch_accepts_the_site(sites_app, page, tmp_path):
    url, folder = sites_app["url"], sites_app["sites"]
    signed_in(page, url, "sam")
    assert "Sites" in sidebar_pages(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("Sites", exact=True).click()
    page.get_by_role("heading", name="Sites").wait_for()

    box = drawing_area(page)
    for point in LANE + LANE[:1]:  # the first corner again closes the polygon
        page.mouse.click(*on_canvas(box, point))
    page.get_by_text("Drawn: lanes 1 ·").wait_for()
    page.get_by_text("Centreline (in the direction of travel)").click()
    page.get_by_text("Drag the centreline in the direction of travel").wait_for()  # the canvas has the line tool
    for attempt in range(2):  # on a loaded machine one drag in a few went unseen: the canvas was re-drawn
        settled(page)
        box = drawing_area(page)  # the caption above it changed
        page.mouse.move(*on_canvas(box, CENTRELINE[0]))
        page.mouse.down()
        page.mouse.move(*on_canvas(box, CENTRELINE[1]), steps=8)
        page.mouse.up()
        try:
            page.get_by_text("centreline points 2").wait_for(timeout=20_000)
            break
        except PlaywrightTimeout:
            if attempt or not page.get_by_text("centreline points 0").is_visible():
                raise

    page.get_by_label("Camera id").fill("TEST-CAM-01")
    page.get_by_label("Location").fill("Test street, northbound")
    page.get_by_text("In force at any time").click()
    page.get_by_role("textbox", name="Site file name").fill("test_camera")

    path = folder / "test_camera.yaml"
    click_until(page, "Validate and save", page.get_by_text("test_camera.yaml (sha256"), lambda: not path.exists())

    site = load_site(path)
    assert np.allclose(site.lanes[0], LANE, atol=1.0) and np.allclose(site.centreline, CENTRELINE, atol=1.0)
    assert site.hours.at_any_time and site.camera_id == "TEST-CAM-01"
    assert site.frame_size == (640, 360)  # the frame drawn on: footage of another size will be refused
    this_year = date.today().year
    assert set(site.hours.treat_as_sunday) == set(sites.bank_holidays([this_year, this_year + 1]))
    first = path.read_bytes()

    # The saved site opens again with its zones on the canvas; saved unchanged, it is the same file.
    page.get_by_text("Drawn: lanes 1 · centreline points 2").wait_for()
    history = folder / sites.HISTORY
    click_until(page, "Validate and save", page.get_by_text("the previous version is kept as"),
                lambda: not history.exists() or not any(history.iterdir()))
    assert path.read_bytes() == first
    assert [p.read_bytes() for p in (folder / sites.HISTORY).iterdir()] == [first]
    assert load_site(path) == site

    # The picture for the README: the site's zones on a grey frame of our own (no footage in the repository).
    page.get_by_text("An uploaded frame").click()
    grey = tmp_path / "grey.png"
    Image.new("RGB", (640, 360), (90, 90, 90)).save(grey)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(grey))
    page.wait_for_function("""() => {  // the canvas's background is the grey frame (it is in a shadow root)
        const find = root => root.querySelector('canvas.dc-background-canvas') ||
            [...root.querySelectorAll('*')].filter(e => e.shadowRoot).map(e => find(e.shadowRoot)).find(c => c);
        const c = find(document);
        return c && c.getContext('2d').getImageData(5, 5, 1, 1).data.slice(0, 3).join() === '90,90,90';
    }""", polling=100)
    drawing_area(page)
    canvas_shot = Image.open(io.BytesIO(page.locator(".dc-container").first.screenshot())).convert("RGB")
    middle = np.mean(LANE[1:3], axis=0) * sites.DISPLAY_WIDTH / 640  # the far edge of the lane, on the canvas
    patch = np.asarray(canvas_shot)[int(middle[1]) - 3:int(middle[1]) + 4, int(middle[0]) - 3:int(middle[0]) + 4]
    assert ((patch[..., 1] > 150) & (patch[..., 0] < 80) & (patch[..., 2] < 80)).any(), "no lane green on its edge"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 1300})  # the picture shows the hours and holidays too
    page.get_by_role("heading", name="Sites").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "sites_page.png"))

    store = Store(sites_app["folder"] / "app.duckdb")
    rows = store.query("SELECT actor, entity_id FROM audit_log WHERE action = 'site.saved'")
    assert [(r["actor"], r["entity_id"]) for r in rows] == [("sam", "test_camera")] * 2
    with store.connect() as con:
        assert verify_chain(con).ok

    db = tmp_path / "batch.duckdb"
    buslane("process", path, sites_app["clip"], "--db", db, "--no-progress", "--start", "2026-11-20T08:00:00",
            "--evidence", tmp_path / "evidence")
    processed = Store(db).query("SELECT camera_id, status, site_sha256 FROM footage_files")
    assert [(r["camera_id"], r["status"]) for r in processed] == [("TEST-CAM-01", "processed")]

    # The preview: the batch's own analysis of the clip, with the site drawn on it, inline in the page.
    start = page.get_by_label("Footage start, if the site takes it from the command line")
    for _ in range(3):  # a re-run the canvas starts while the box is filled draws it again empty: fill again
        settled(page)
        start.fill("2026-11-20T08:00:00")
        start.press("Enter")  # commits the box's value
        settled(page)
        if start.input_value() == "2026-11-20T08:00:00":
            break
    shown = page.locator('img[alt="first.mp4 preview"]')
    click_until(page, "Preview this frame", shown, lambda: True)  # a preview changes nothing
    source = shown.get_attribute("src")
    assert source.startswith("data:image/png;base64,")  # no /media/ URL serves the camera's footage
    preview = np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB"))
    assert preview.shape == (360 + 80, 640, 3)  # the frame and the verdict panel below it
    x, y = np.round(np.mean(LANE[1:3], axis=0)).astype(int)  # on the lane's far edge
    assert ((preview[y - 2:y + 3, x - 2:x + 3] == (0, 200, 0)).all(axis=-1)).any(), "the lane is not drawn"


@needs_chromium
def test_an_officer_has_no_sites_page_and_is_refused_it_by_link(sites_app, page):
    url = sites_app["url"]
    signed_in(page, url, "jo")
    pages = sidebar_pages(page)
    assert "Exports" in pages and "Sites" not in pages
    page.goto(page.url + "&page=Sites")  # the signed-in link, forcing the page
    page.get_by_role("heading", name="Sites").wait_for()
    page.get_by_text("Only a supervisor can set up camera sites.").wait_for()
    assert page.locator(".dc-container").count() == 0 and "Sites" not in sidebar_pages(page)
