"""The approved-vehicle whitelist: import and validation, versions, matching, recheck and gaps."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.store import Store
from tests.conftest import CLI_OFFICER
from whitelist.csv_format import WhitelistImportError, parse_whitelist, read_whitelist
from whitelist.gaps import flag_gap, open_gaps
from whitelist.matching import Whitelist, check, load
from whitelist.plates import is_near_miss, normalise_plate
from whitelist.recheck import recheck
from whitelist.versions import import_whitelist

DATA = Path(__file__).parent / "data" / "whitelist"
SAMPLE = Path(__file__).parents[1] / "whitelist" / "sample_whitelist.csv"
HEADER = "plate,category,operator,valid_from,valid_to,source,notes\n"

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "buslane.duckdb"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def import_text(store: Store, text: str, replace: bool = True, name: str = "list.csv", actor: str = "manager:sam"):
    with store.transaction() as con:
        return import_whitelist(con, parse_whitelist(text.encode(), name), actor, replace)


def cli(*args: str):
    return runner.invoke(app, ["whitelist", *map(str, args)])


def versions(db: Path) -> list[dict]:
    return Store(db).query("SELECT * FROM whitelist_versions ORDER BY id")


def audit_rows(db: Path, action: str) -> list[dict]:
    return Store(db).query("SELECT * FROM audit_log WHERE action = ? ORDER BY id", [action])


def add_contravention(store: Store, case_id: str, plate: str | None, first_seen: datetime, status: str = "pending") -> None:
    """The minimum core rows for one contravention (as the batch would write them)."""
    with store.transaction() as con:
        con.execute(
            "INSERT INTO footage_files (id, path, camera_id, status, processed_at) VALUES (?, 'night.mp4', 'cam1', 'processed', ?)"
            " ON CONFLICT DO NOTHING",
            ["f1", first_seen],
        )
        con.execute(
            "INSERT INTO lane_passages (id, footage_id, camera_id, track_id, vehicle_class, first_seen, last_seen,"
            " first_frame, last_frame, frames_in_lane, seconds_in_lane, distance_px, is_contravention, reason, plate)"
            " VALUES (?, 'f1', 'cam1', 1, 'car', ?, ?, 10, 60, 50, 5.0, 200.0, true, 'in lane 5.0 s', ?)",
            [f"p-{case_id}", first_seen, first_seen + timedelta(seconds=5), plate],
        )
        con.execute(
            "INSERT INTO contraventions (id, passage_id, camera_id, first_seen, last_seen, timezone, vehicle_class,"
            " footage, footage_id, first_frame, last_frame, status, review_deadline, plate, created_at)"
            " VALUES (?, ?, 'cam1', ?, ?, 'Europe/London', 'car', 'night.mp4', 'f1', 10, 60, ?, ?, ?, ?)",
            [case_id, f"p-{case_id}", first_seen, first_seen + timedelta(seconds=5), status,
             first_seen + timedelta(days=28), plate, first_seen],
        )


# --- plates -------------------------------------------------------------------------------------


def test_plates_normalise_and_reject_what_is_not_a_plate():
    assert normalise_plate(" bx12-bus ") == "BX12BUS"
    assert normalise_plate("d 123 abcdef") == "D123ABCDEF"  # 10 characters: foreign plates are longer
    for bad in ("A", "ABCDEFGHIJK", "AB!2", ""):
        with pytest.raises(ValueError):
            normalise_plate(bad)


@pytest.mark.parametrize(
    ("read", "near"),
    [
        ("BX12BUZ", True),    # substitution
        ("BX12BUSS", True),   # insertion
        ("BX12BU", True),     # deletion
        ("8X12BU5", True),    # two confusions, B/8 and S/5
        ("8XI2BU5", True),    # three confusions, including I/1
        ("BX12BUS", False),   # the plate itself is a match, not a near miss
        ("BX12BQQ", False),   # two unrelated substitutions
        ("XB12BUS", False),   # a transposition is two edits
    ],
)
def test_near_miss_rule(read, near):
    assert is_near_miss(read, "BX12BUS") is near


# --- validation ---------------------------------------------------------------------------------


def test_bad_rows_import_nothing_and_each_line_is_named(db):
    result = cli("import", DATA / "bad_rows.csv", "--db", db)

    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    expected = {
        3: "unknown category 'lorry'",
        4: "valid_from '2024-02-30' is not a date",
        5: "valid_to 2024-03-14 is before valid_from 2024-03-15",
        6: "missing plate",
        7: "overlaps line 2",
        8: "plate 'A!' is not 2–10 letters and digits",
        9: "missing columns valid_to, source, notes",
    }
    for line, reason in expected.items():
        assert any(e.startswith(f"bad_rows.csv, line {line}: ") and reason in e for e in errors), (line, errors)
    assert not any(e.startswith(("bad_rows.csv, line 2:", "bad_rows.csv, line 10:")) for e in errors)
    assert "7 problems; nothing imported" in errors[-1]
    assert versions(db) == []
    assert Store(db).query("SELECT count(*) AS n FROM whitelist_entries") == [{"n": 0}]


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        ("plate,operator,valid_from,valid_to,source,notes\nBX12BUS,Northway,2024-01-01,,,\n", 1, "missing column 'category'"),
        (b"", None, "the file is empty"),
        (b"\xef\xbb\xbf\r\n,,,,,,\r\n", None, "the file is empty"),
        (HEADER, 1, "a header but no entries"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 3, "binary data"),
        ((HEADER + "BX12BUS,bus,Caf\xe9 Buses,2024-01-01,,,\n").encode("latin-1"), 2, "not UTF-8 text"),
        (HEADER.replace("notes", "notes,colour") + "BX12BUS,bus,,2024-01-01,,,,red\n", 1, "unknown column 'colour'"),
    ],
    ids=["missing-column", "empty", "excel-empty", "header-only", "binary", "latin-1", "unknown-column"],
)
def test_unreadable_files_import_nothing(tmp_path, db, content, line, reason):
    path = write(tmp_path, "list.csv", content)

    with pytest.raises(WhitelistImportError) as caught:
        read_whitelist(path)
    assert [(p.line, reason in p.message) for p in caught.value.problems] == [(line, True)]
    assert caught.value.messages()[0].startswith(f"list.csv, line {line}: " if line else "list.csv: ")

    result = cli("import", path, "--db", db)
    assert result.exit_code == 1 and reason in result.stderr
    assert versions(db) == []


def test_missing_header_columns_are_each_named():
    with pytest.raises(WhitelistImportError) as caught:
        parse_whitelist(b"plate,operator,valid_from\nBX12BUS,Northway,2024-01-01\n", "list.csv")
    assert sorted(p.message for p in caught.value.problems) == [
        "missing column 'category'", "missing column 'notes'", "missing column 'source'", "missing column 'valid_to'",
    ]


def test_excel_csv_utf8_imports_like_the_plain_file():
    plain = (DATA / "good.csv").read_bytes()
    excel = b"\xef\xbb\xbf" + plain.replace(b"\n", b"\r\n") + b",,,,,,\r\n,,,,,,\r\n"

    assert parse_whitelist(excel, "good.csv").entries == parse_whitelist(plain, "good.csv").entries


def test_excel_uk_dates_are_read_day_first():
    wl = parse_whitelist((HEADER + "BX12BUS,bus,,01/04/2024,31/03/2025,,\n").encode(), "list.csv")
    assert (wl.entries[0].valid_from, wl.entries[0].valid_to) == (date(2024, 4, 1), date(2025, 3, 31))


def test_sample_file_imports(db):
    assert cli("import", SAMPLE, "--db", db).exit_code == 0
    assert versions(db)[0]["row_count"] == sum(1 for _ in SAMPLE.open()) - 1


# --- versions -----------------------------------------------------------------------------------


def test_good_file_becomes_a_version_with_who_when_and_hash(db):  # who: the officer the OS user is mapped to
    before = datetime.now(timezone.utc)
    result = cli("import", DATA / "good.csv", "--db", db)

    assert result.exit_code == 0, result.output
    [v] = versions(db)
    assert v["id"] == 1 and v["file_name"] == "good.csv" and v["imported_by"] == CLI_OFFICER
    assert v["sha256"] == hashlib.sha256((DATA / "good.csv").read_bytes()).hexdigest()
    assert v["row_count"] == v["entry_count"] == 5
    assert v["imported_at"] >= before
    entries = Store(db).query("SELECT plate, category, line FROM whitelist_entries WHERE version_id = 1 ORDER BY line")
    assert [(e["plate"], e["category"], e["line"]) for e in entries] == [
        ("BX12BUS", "bus", 2), ("BX15BUS", "bus", 3), ("TX19CAB", "taxi", 4), ("TX19CAB", "private_hire", 5),
        ("EM68AMB", "emergency", 6),
    ]
    [a] = audit_rows(db, "whitelist.imported")
    assert a["actor"] == CLI_OFFICER and a["entity_id"] == "1" and json.loads(a["details"])["sha256"] == v["sha256"]


def test_import_without_replace_adds_to_the_current_list_and_refuses_overlaps(db):
    store = Store(db)
    import_text(store, HEADER + "BX12BUS,bus,Northway Buses,2024-01-01,,,\n")
    merged = import_text(store, HEADER + "TX19CAB,taxi,,2024-01-01,,,\n", replace=False)

    assert (merged.version, merged.mode, merged.based_on, merged.entry_count) == (2, "merge", 1, 2)
    with store.connect() as con:
        assert check(con, "BX12BUS", date(2024, 5, 1)).exempt
        assert check(con, "TX19CAB", date(2024, 5, 1)).exempt

    with pytest.raises(WhitelistImportError) as caught:
        import_text(store, HEADER + "EM68AMB,emergency,,2024-01-01,,,\nBX12BUS,bus,Other,2024-06-01,,,\n", replace=False)
    [problem] = caught.value.problems
    assert problem.line == 3 and "version 2" in problem.message and "--replace" in problem.message
    assert len(versions(db)) == 2


def test_replace_supersedes_the_list_but_keeps_old_versions(db):
    store = Store(db)
    import_text(store, HEADER + "BX12BUS,bus,Northway Buses,2024-01-01,,,\n")
    import_text(store, HEADER + "TX19CAB,taxi,,2024-01-01,,,\n", replace=True)

    with store.connect() as con:
        assert not check(con, "BX12BUS", date(2024, 5, 1)).exempt
        assert check(con, "TX19CAB", date(2024, 5, 1)).version == 2
        assert load(con, version=1).check("BX12BUS", date(2024, 5, 1)).exempt
    assert [v["mode"] for v in versions(db)] == ["replace", "replace"]


# --- matching -----------------------------------------------------------------------------------


@pytest.fixture
def good_list(db) -> Store:
    store = Store(db)
    with store.transaction() as con:
        import_whitelist(con, read_whitelist(DATA / "good.csv"), "manager:sam", replace=True)
    return store


def test_exact_match_after_normalisation_is_exempt(good_list):
    with good_list.connect() as con:
        result = check(con, "bx12 bus", date(2024, 5, 1))
    assert result.exempt and result.version == 1 and result.near_misses == ()
    assert result.columns() == {
        "whitelist_version": 1, "whitelist_entry": "BX12BUS (bus, Northway Buses)", "whitelist_near_miss": None,
    }


def test_near_miss_is_not_exempt_but_named(good_list):
    with good_list.connect() as con:
        result = check(con, "8X12BU5", date(2024, 5, 1))
    assert not result.exempt
    assert [e.plate for e in result.near_misses] == ["BX12BUS"]
    assert result.near_miss_text == "possible whitelisted vehicle: BX12BUS (bus, Northway Buses)"
    assert "possible whitelisted vehicle: BX12BUS (bus, Northway Buses)" in result.describe()


def test_near_misses_only_count_entries_valid_that_day(good_list):
    with good_list.connect() as con:  # BX15BUS ended 2024-06-30; BX12BUS is one edit from BX15BUS
        assert [e.plate for e in check(con, "BX15BUZ", date(2024, 6, 30)).near_misses] == ["BX15BUS"]
        assert check(con, "BX15BUZ", date(2024, 7, 1)).near_misses == ()
        assert [e.plate for e in check(con, "BX15BUS", date(2024, 7, 1)).near_misses] == ["BX12BUS"]


def test_no_whitelist_imported(db):
    with Store(db).connect() as con:
        result = check(con, "BX12BUS", date(2024, 5, 1))
    assert result.version is None and not result.exempt and "no whitelist" in result.describe()


@pytest.mark.parametrize(
    ("day", "exempt"),
    [
        (date(2023, 12, 31), False),  # day before valid_from
        (date(2024, 1, 1), True),     # valid_from day
        (date(2024, 6, 30), True),    # valid_to day (inclusive)
        (date(2024, 7, 1), False),    # day after valid_to
    ],
)
def test_validity_window_boundaries(good_list, day, exempt):
    with good_list.connect() as con:
        assert check(con, "BX15BUS", day).exempt is exempt


def test_times_are_compared_by_their_uk_day():
    wl = Whitelist(1, parse_whitelist((HEADER + "BX12BUS,bus,,2024-07-01,2024-12-31,,\n").encode(), "x.csv").entries)
    # 23:30 UTC on 30 June is 00:30 BST on 1 July; 23:30 UTC on 31 December is still 31 December (GMT).
    assert wl.check("BX12BUS", datetime(2024, 6, 30, 23, 30, tzinfo=timezone.utc)).exempt
    assert not wl.check("BX12BUS", datetime(2024, 6, 30, 22, 30, tzinfo=timezone.utc)).exempt
    assert wl.check("BX12BUS", datetime(2024, 12, 31, 23, 30, tzinfo=timezone.utc)).exempt
    assert not wl.check("BX12BUS", datetime(2025, 1, 1, 0, 30, tzinfo=timezone.utc)).exempt
    assert wl.check("BX12BUS", datetime(2024, 7, 1, 0, 15)).exempt  # naive: already UK local time


def test_cli_check_prints_match_near_miss_and_version(good_list, db):
    exact = cli("check", "BX12 BUS", "--at", "2024-05-01T08:30:00+01:00", "--db", db)
    near = cli("check", "BX12BU5", "--at", "2024-05-01", "--db", db)
    expired = cli("check", "BX15BUS", "--at", "2024-06-30T23:30Z", "--db", db)

    assert exact.exit_code == 0 and "whitelisted on 2024-05-01 as BX12BUS (bus, Northway Buses)" in exact.stdout
    assert "possible whitelisted vehicle: BX12BUS (bus, Northway Buses)" in near.stdout
    assert "BX15BUS: not whitelisted on 2024-07-01" in expired.stdout
    assert all("whitelist version 1" in r.stdout for r in (exact, near, expired))
    assert cli("check", "B!", "--db", db).exit_code == 1


# --- recheck ------------------------------------------------------------------------------------


def test_recheck_clears_a_pending_case_for_a_vehicle_added_later(db):
    store = Store(db)
    yesterday = datetime(2024, 5, 1, 7, 45, tzinfo=timezone.utc)
    add_contravention(store, "c-listed", "BX12 BUS", yesterday)
    add_contravention(store, "c-near", "BX12BU5", yesterday + timedelta(minutes=1))
    add_contravention(store, "c-too-early", "TX19CAB", yesterday + timedelta(minutes=2))
    add_contravention(store, "c-decided", "BX12BUS", yesterday + timedelta(minutes=3), status="rejected")
    add_contravention(store, "c-unread", None, yesterday + timedelta(minutes=4))
    import_text(store, HEADER + "BX12BUS,bus,Northway Buses,2024-04-01,,,\nTX19CAB,taxi,,2024-05-02,,,\n")

    result = cli("recheck", "--db", db)

    assert result.exit_code == 0, result.output
    assert "1 cleared" in result.stdout and "c-listed: BX12BUS (bus, Northway Buses)" in result.stdout
    rows = {r["id"]: r for r in store.query("SELECT * FROM contraventions")}
    assert rows["c-listed"]["status"] == "whitelisted"
    assert (rows["c-listed"]["whitelist_version"], rows["c-listed"]["whitelist_entry"]) == (1, "BX12BUS (bus, Northway Buses)")
    assert rows["c-near"]["status"] == "pending"
    assert rows["c-near"]["whitelist_near_miss"] == "possible whitelisted vehicle: BX12BUS (bus, Northway Buses)"
    assert rows["c-too-early"]["status"] == "pending"  # its entry starts the day after the passage
    assert rows["c-decided"]["status"] == "rejected" and rows["c-decided"]["whitelist_version"] is None
    assert rows["c-unread"]["status"] == "pending"
    [a] = audit_rows(db, "whitelist.recheck_cleared")
    assert (a["actor"], a["entity"], a["entity_id"]) == (CLI_OFFICER, "contravention", "c-listed")
    assert json.loads(a["details"])["whitelist_entry"] == "BX12BUS (bus, Northway Buses)"

    again = recheck(store, "officer:jo")  # idempotent: nothing left to clear
    assert again.cleared == () and again.checked == 2


def test_recheck_without_a_whitelist_changes_nothing(db):
    store = Store(db)
    add_contravention(store, "c1", "BX12BUS", datetime(2024, 5, 1, 8, tzinfo=timezone.utc))
    assert recheck(store, "officer:jo").version is None
    assert cli("recheck", "--db", db).exit_code == 1
    assert store.query("SELECT status, whitelist_version FROM contraventions") == [{"status": "pending", "whitelist_version": None}]


# --- gaps ---------------------------------------------------------------------------------------


def test_gaps_flag_export_csv_and_close_when_a_later_version_lists_the_plate(db):
    store = Store(db)
    add_contravention(store, "c-42", "BX99NEW", datetime(2024, 5, 1, 8, tzinfo=timezone.utc))
    import_text(store, HEADER + "BX12BUS,bus,Northway Buses,2024-01-01,,,\n")

    flagged = cli("flag", "bx99 new", "--category", "bus", "--note", "route 42 relief, bus", "--contravention", "c-42",
                  "--db", db)
    assert flagged.exit_code == 0, flagged.output
    with store.transaction() as con:
        flag_gap(con, "TX50CAB", "taxi", None, None, "officer:al")

    exported = cli("gaps", "--db", db, "--format", "csv")
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))  # stdout is nothing but the CSV
    assert [(r["plate"], r["category"], r["note"], r["contravention_id"], r["flagged_by"]) for r in rows] == [
        ("BX99NEW", "bus", "route 42 relief, bus", "c-42", CLI_OFFICER),
        ("TX50CAB", "taxi", "", "", "officer:al"),
    ]
    assert "BX99NEW" in cli("gaps", "--db", db).stdout
    assert len(audit_rows(db, "whitelist.gap_flagged")) == 2

    result = import_text(store, HEADER + "BX99NEW,bus,Northway Buses,2024-05-01,,,\n", replace=False)

    assert result.closed_gaps == (1,)
    with store.connect() as con:
        assert [g.plate for g in open_gaps(con)] == ["TX50CAB"]
    [closed] = store.query("SELECT * FROM whitelist_gaps WHERE id = 1")
    assert closed["status"] == "closed" and closed["closed_by_version"] == 2
    [a] = audit_rows(db, "whitelist.gap_closed")
    assert a["entity_id"] == "1" and json.loads(a["details"])["version"] == 2
    assert [r["plate"] for r in csv.DictReader(io.StringIO(cli("gaps", "--db", db, "--format", "csv").stdout))] == ["TX50CAB"]


def test_an_expired_entry_does_not_close_a_gap(db):
    store = Store(db)
    with store.transaction() as con:
        flag_gap(con, "TX50CAB", "taxi", "licence renewed", None, "officer:al")
    result = import_text(store, HEADER + "TX50CAB,taxi,,2020-01-01,2020-12-31,,\n")
    assert result.closed_gaps == ()
    with store.connect() as con:
        assert [g.plate for g in open_gaps(con)] == ["TX50CAB"]


def test_flag_rejects_bad_input_with_a_reason(db):
    Store(db)
    unknown_case = cli("flag", "BX99NEW", "--category", "bus", "--contravention", "nope", "--db", db)
    unknown_category = cli("flag", "BX99NEW", "--category", "lorry", "--db", db)

    assert unknown_case.exit_code == 1 and "no contravention with id 'nope'" in unknown_case.stderr
    assert unknown_category.exit_code == 1 and "unknown category 'lorry'" in unknown_category.stderr
    assert Store(db).query("SELECT count(*) AS n FROM whitelist_gaps") == [{"n": 0}]
