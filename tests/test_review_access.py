"""Access to the review app (issue 16 item 6, issue 15 items 5 and 7): sessions, links, downloads, throttle.

The browser tests run `buslane review` over a copy of the night's real database and evidence, in
Debian's headless Chromium, and check from outside as an attacker would: a plain HTTP client, with
no session, fetches every URL the signed-in browser used.
"""

from __future__ import annotations

import io
import os
import re
import socket
import stat
import subprocess
import urllib.error
import urllib.request
import zipfile
from urllib.parse import urlparse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.store import Store
from review_app.bench import fill
from review_app.services import corrections, decisions
from review_app.services.dashboard import dashboard
from review_app.services.sessions import Sessions, secret_path
from review_app.services.throttle import LOCK, MAX_FAILURES, sign_in
from review_app.services.users import User, UsersFile
from tests.reviewapp import launch, needs_chromium, private_night, serve, sign_in_form

playwright = pytest.importorskip("playwright.sync_api")
PASSWORDS = {"jo": "jo-password", "al": "al-password", "kim": "kim-password"}
DOWNLOAD = 'iframe[title*="buslane_download"]'


def get(url: str) -> tuple[int, bytes]:
    """A plain HTTP GET: no cookie, no session, no browser."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def app(night, tmp_path_factory):
    """`buslane review` on a free port over a private copy of the night; case A validated (packable), B pending."""
    folder = tmp_path_factory.mktemp("access")
    store = private_night(night, folder)
    case_a, case_b = [r["id"] for r in store.query(
        "SELECT id FROM contraventions WHERE status = 'pending' ORDER BY review_deadline, id")]
    jo = User("jo", "officer")
    assert corrections.correct_plate(store, case_a, jo, "OY09 FEU").ok
    assert decisions.validate(store, case_a, jo).ok
    users = UsersFile(folder / "users.yaml")
    for name, password in PASSWORDS.items():
        users.add(name, "officer", password)
    with serve(store.path, users.path, folder / "evidence") as url:
        yield {"url": url, "port": urlparse(url).port, "store": store, "a": case_a, "b": case_b,
               "evidence": folder / "evidence"}


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def signed_in(page, url: str, name: str, query: str = ""):
    page.goto(url + query)
    sign_in_form(page, name, PASSWORDS[name])
    page.get_by_role("button", name="Sign out").wait_for()
    return page


def heading(page, text: str):
    return page.get_by_role("heading", name=text)


def evidence_bytes(root: Path, case_id: str) -> list[bytes]:
    files = [p for p in root.rglob("*") if p.is_file() and case_id in str(p)]
    assert files, f"no evidence files for {case_id} under {root}"
    return [p.read_bytes() for p in files]


def leaked(body: bytes, secrets: list[bytes]) -> bool:
    """The body holds a whole secret file, or is a piece (a range request) of one."""
    return any(s in body or (len(body) > 4096 and body in s) for s in secrets)


def served_without_a_session(urls: list[str], secrets: list[bytes]) -> list[str]:
    """The URLs a plain client (no cookie, no session) gets evidence from: any /media/ file at all (the
    app's media store holds only what a page showed), or any body holding a secret file's bytes."""
    out = []
    for url in urls:
        status, body = get(url)
        if (status == 200 and urlparse(url).path.startswith("/media/") and body) or leaked(body, secrets):
            out.append(url)
    return out


@needs_chromium
def test_the_pack_comes_only_to_the_signed_in_page_and_dies_with_it(app, page):
    url, case_a = app["url"], app["a"]
    seen: list[tuple[str, str]] = []
    page.on("response", lambda r: seen.append((r.url, r.headers.get("content-type", ""))))
    signed_in(page, url, "jo", f"/?case={case_a}")
    heading(page, f"Case {case_a}").wait_for()
    page.get_by_role("button", name="Make evidence pack").click()
    with page.expect_download() as download:
        page.frame_locator(DOWNLOAD).last.get_by_role("button", name="Download evidence pack").click()
    assert download.value.url.startswith("blob:")
    pack = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(pack)) as z:
        assert any(n.endswith("manifest.json") for n in z.namelist())
    assert not [u for u, kind in seen if "zip" in kind], "the pack was served at a URL"
    http = [u for u, _ in seen if u.startswith("http")]

    def pack_served() -> list[str]:  # (the stills inside it are the evidence media test's business)
        return [u for u in http if pack in get(u)[1]]

    assert pack_served() == []  # to a client with no session, while jo is still signed in
    page.get_by_role("button", name="Sign out").click()
    heading(page, "Bus lane review: sign in").wait_for()
    assert pack_served() == []


@needs_chromium
def test_no_url_serves_a_cases_evidence_media_to_a_client_without_a_session(app, page):
    url, case_a = app["url"], app["a"]
    seen: list[str] = []
    page.on("response", lambda r: seen.append(r.url))
    signed_in(page, url, "jo", f"/?case={case_a}")
    heading(page, f"Case {case_a}").wait_for()
    page.wait_for_function("() => document.querySelectorAll('iframe').length > 0")
    page.wait_for_timeout(2000)  # let the page fetch what it shows
    secrets = evidence_bytes(app["evidence"], case_a)
    http = [u for u in seen if u.startswith("http")]
    assert served_without_a_session(http, secrets) == []
    page.get_by_role("button", name="Sign out").click()
    heading(page, "Bus lane review: sign in").wait_for()
    assert served_without_a_session(http, secrets) == []


@needs_chromium
def test_a_refresh_keeps_the_case_a_link_opens_it_and_sign_out_kills_the_link(app, page, browser):
    url, case_a, case_b = app["url"], app["a"], app["b"]
    signed_in(page, url, "al", f"/?case={case_b}")  # a link followed before sign-in opens its case after
    heading(page, f"Case {case_b}").wait_for()
    page.reload()
    heading(page, f"Case {case_b}").wait_for()
    assert page.get_by_role("button", name="Sign in").count() == 0
    assert "s=" in page.url and "al-password" not in page.url

    page.goto(page.url.replace(case_b, case_a))  # a link to another case, same session
    heading(page, f"Case {case_a}").wait_for()
    signed_in_url = page.url
    page.get_by_role("button", name="Sign out").click()
    heading(page, "Bus lane review: sign in").wait_for()

    other = browser.new_page()
    try:
        other.goto(signed_in_url)  # the signed-out session's URL, in another tab
        heading(other, "Bus lane review: sign in").wait_for()
        assert other.get_by_role("button", name="Sign out").count() == 0
    finally:
        other.close()


@needs_chromium
def test_a_click_on_a_queue_row_opens_its_case(app, page):
    store, case_b = app["store"], app["b"]
    signed_in(page, app["url"], "jo")
    heading(page, "Review queue").wait_for()
    pending = [r["id"] for r in store.query(
        "SELECT id FROM contraventions WHERE status = 'pending' ORDER BY review_deadline, id")]
    assert pending[0] == case_b
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + 35 + 35 / 2)  # the first row, below the header
    heading(page, f"Case {case_b}").wait_for()
    page.wait_for_url(re.compile(f"case={re.escape(case_b)}"))  # and the URL names it, for a refresh


@needs_chromium
def test_the_sixth_attempt_is_refused_even_with_the_right_password_and_the_lock_is_audited(app, page):
    # Last of the sign-ins here: it locks this machine's client address too, for 15 minutes.
    store = app["store"]

    def attempts() -> int:
        return store.query("SELECT count(*) AS n FROM audit_log WHERE entity_id = 'kim'"
                           " AND action IN ('review.sign_in_failed', 'review.sign_in_refused_locked')")[0]["n"]

    page.goto(app["url"])
    for i in range(MAX_FAILURES):
        sign_in_form(page, "kim", "wrong-password")
        deadline = 60
        while attempts() < i + 1 and deadline:  # each attempt answered before the next
            page.wait_for_timeout(500)
            deadline -= 1
    page.get_by_text("Too many failed sign-ins: locked until", exact=False).wait_for()
    sign_in_form(page, "kim", PASSWORDS["kim"])
    page.get_by_text("Too many failed sign-ins: try again after", exact=False).wait_for()
    assert page.get_by_role("button", name="Sign out").count() == 0
    rows = app["store"].query("SELECT action, details->>'locked' AS locked FROM audit_log WHERE entity_id = 'kim'"
                              " ORDER BY id")
    actions = [r["action"] for r in rows]
    assert actions == ["review.sign_in_failed"] * MAX_FAILURES + ["review.sign_in_locked"] * 2 + [
        "review.sign_in_refused_locked"]
    assert {r["locked"] for r in rows if r["action"] == "review.sign_in_locked"} == {"name", "client"}


@needs_chromium
def test_the_app_listens_on_localhost_only_by_default(app):
    addresses = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    outside = [a for a in addresses if ":" not in a and not a.startswith("127.")]
    if not outside:
        pytest.skip("this machine has no address but loopback")
    with socket.socket() as s:
        s.settimeout(3)
        assert s.connect_ex((outside[0], app["port"])) != 0, f"the app answered on {outside[0]}"


def test_buslane_review_binds_127_0_0_1_unless_told_and_switches_table_export_off(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import review_app.cli
    from pipeline.cli import app as cli

    store = Store(tmp_path / "db.duckdb")
    started = []
    monkeypatch.setattr(review_app.cli.os, "execve", lambda exe, args, env: started.append(args))
    for extra in ([], ["--address", "0.0.0.0"]):
        done = CliRunner().invoke(cli, ["review", "--db", str(store.path), "--users", str(tmp_path / "u.yaml"), *extra])
        assert done.exit_code == 0, done.output
    default, told = started
    assert default[default.index("--server.address") + 1] == "127.0.0.1"
    assert told[told.index("--server.address") + 1] == "0.0.0.0"
    assert default[default.index("--client.disableDataExport") + 1] == "true"


def test_throttle_per_name_and_per_client_survives_a_restart_and_expires(tmp_path):
    store = Store(tmp_path / "t.duckdb")
    users = UsersFile(tmp_path / "users.yaml")
    users.add("jo", "officer", PASSWORDS["jo"])
    users.add("al", "officer", PASSWORDS["al"])
    t0 = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
    for i in range(MAX_FAILURES):  # one client guessing names
        assert sign_in(store, users, f"guess{i}", "x", "10.0.0.9", now=t0).user is None
    reopened = Store(store.path)  # as after a restart of the app
    assert sign_in(reopened, users, "al", PASSWORDS["al"], "10.0.0.9", now=t0).user is None  # the client is locked
    assert sign_in(reopened, users, "al", PASSWORDS["al"], "10.0.0.7", now=t0).user == User("al", "officer")
    for _ in range(MAX_FAILURES):  # one name tried from many clients
        sign_in(reopened, users, "jo", "x", f"10.0.1.{_}", now=t0)
    refused = sign_in(reopened, users, "jo", PASSWORDS["jo"], "10.0.2.1", now=t0 + LOCK - timedelta(seconds=1))
    assert refused.user is None and "Too many failed sign-ins" in refused.message
    assert sign_in(reopened, users, "jo", PASSWORDS["jo"], "10.0.2.1", now=t0 + LOCK).user == User("jo", "officer")


def test_session_tokens_are_signed_expire_and_die_at_sign_out(tmp_path):
    store = Store(tmp_path / "t.duckdb")
    users = UsersFile(tmp_path / "users.yaml")
    jo = users.add("jo", "officer", PASSWORDS["jo"])
    sessions = Sessions(store, users)
    secret = secret_path(users.path)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    session = sessions.start(jo, "localhost")
    assert PASSWORDS["jo"] not in session.token and sessions.resume(session.token).user == jo
    assert sessions.resume(session.token[:-2] + ("AA" if not session.token.endswith("AA") else "BB")) is None
    assert sessions.resume(session.token, now=session.expires_at + timedelta(seconds=1)) is None
    sessions.end(session)
    assert sessions.resume(session.token) is None
    os.chmod(secret, 0o644)
    with pytest.raises(PermissionError, match=str(secret)):
        Sessions(store, users)


def test_dashboard_share_within_14_days_equals_the_hand_count(tmp_path):
    store = Store(tmp_path / "d.duckdb")
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)  # a Monday
    fill(store, 8, now=now, spread_days=21, prefix="D")  # seen 21 days ago .. now, 3 days apart
    seen = {r["id"]: r for r in store.query("SELECT id, first_seen, review_deadline FROM contraventions")}
    # (case, officer, decided this long after its deadline); None: left pending
    plan = {"D-000000": ("jo", timedelta(days=2)),     # late
            "D-000001": ("jo", timedelta(hours=-1)),   # in time
            "D-000002": ("al", timedelta(hours=3)),    # past the deadline's hour, same UK day: in time
            "D-000003": ("al", timedelta(days=-5)),    # in time
            "D-000004": ("al", timedelta(days=1, hours=1)),  # late
            "D-000005": ("jo", timedelta(days=-9))}    # in time; D-000006, D-000007 pending, not yet due
    with store.transaction() as con:
        for case, (officer, after) in plan.items():
            deadline = seen[case]["review_deadline"].replace(hour=10, minute=0)
            con.execute("UPDATE contraventions SET review_deadline = ?, status = 'validated' WHERE id = ?",
                        [deadline, case])
            con.execute("""INSERT INTO decisions (contravention_id, officer, "at", action) VALUES (?, ?, ?, 'validate')""",
                        [case, officer, deadline + after])
    d = dashboard(store, now=now)
    by_officer = {o.group: (o.within, o.counted) for o in d.on_time_by_officer}
    assert by_officer == {"jo": (2, 3), "al": (2, 3)}
    # Seen (UTC noon, 3 days apart from Monday 9 November): 0, 1, 2 that week; 3, 4 the next; 5 the one after.
    by_week = {w.group: (w.within, w.counted) for w in d.on_time_by_week}
    assert by_week == {"2026-11-09": (2, 3), "2026-11-16": (1, 2), "2026-11-23": (1, 1)}
    assert [(x.case_id, x.officer, x.days_late) for x in d.late] == [("D-000000", "jo", 2), ("D-000004", "al", 1)]


def test_the_dashboard_lists_late_decisions_and_an_empty_handover_note_is_said(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from review_app.config import DB_ENV, EVIDENCE_ENV, USERS_ENV

    store = Store(tmp_path / "d.duckdb")
    fill(store, 3, prefix="H")
    with store.transaction() as con:  # H-000000 decided a day after its deadline
        con.execute("""INSERT INTO decisions (contravention_id, officer, "at", action)
                       SELECT id, 'sam', review_deadline + INTERVAL 1 DAY, 'validate' FROM contraventions
                       WHERE id = 'H-000000'""")
    users = UsersFile(tmp_path / "users.yaml")
    sam = users.add("sam", "supervisor", "sam-password")
    for name, value in ((DB_ENV, store.path), (USERS_ENV, users.path), (EVIDENCE_ENV, tmp_path / "evidence")):
        monkeypatch.setenv(name, str(value))
    at = AppTest.from_file(str(Path(__file__).parents[1] / "review_app" / "app.py"), default_timeout=30)
    at.query_params["s"] = Sessions(store, users).start(sam, "localhost").token
    at.run()
    at.sidebar.radio(key="page").set_value("Dashboard").run()
    assert "Late decisions (1)" in [h.value for h in at.subheader]
    late = next(d.value for d in at.dataframe if "Days late" in d.value.columns)
    assert list(late["Case"]) == ["H-000000"] and list(late["Days late"]) == [1]
    at.sidebar.radio(key="page").set_value("Shift handover").run()
    next(b for b in at.button if b.label == "Add note").click().run()
    assert "The note is empty" in at.error[-1].value
    assert store.query("SELECT count(*) AS n FROM handover_notes")[0]["n"] == 0
