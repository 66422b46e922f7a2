"""The history proves itself: tampering with plain SQL on a real database is caught by `buslane audit
verify`, naming the row, and a history rewritten after a pack was made shows against that pack.

Each test works on its own copy of the night's batch database (the `night` fixture), with decisions
made through the review services: one case validated after a plate correction, one rejected with a
whitelist gap flagged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from evidence import appeals
from evidence.pack.builder import build_pack
from evidence.pack.verify import verify_pack
from evidence.retention import RetentionRules, apply_retention
from pipeline.history import canonical
from pipeline.store import Store
from review_app.services import cases, corrections, decisions
from review_app.services.users import User
from tests.test_pack import copy_night, run_cli
from whitelist.csv_format import parse_whitelist
from whitelist.recheck import recheck
from whitelist.versions import import_whitelist

JO, AL = User("jo", "officer"), User("al", "officer")


def decided(night: dict, folder: Path) -> tuple[Store, Path, str, str]:
    """A copy of the night with one case validated (after a correction) and one rejected with a gap flag."""
    store, root, (validated, rejected) = copy_night(night, folder)
    assert corrections.correct_plate(store, validated, JO, "OY09 FEU").ok
    assert decisions.validate(store, validated, JO).ok
    flag = decisions.GapFlag("BX12BUS", "bus", "route 42 relief bus")
    assert decisions.reject(store, rejected, AL, "permitted_not_whitelisted", flag=flag).ok
    return store, root, validated, rejected


@pytest.fixture
def history(night, tmp_path) -> tuple[Store, Path, str, str]:
    return decided(night, tmp_path / "copy")


def sql(store: Store, *statements: str, params: list | None = None) -> None:
    """What someone with the database file and a DuckDB shell can do."""
    with store.transaction() as con:
        for statement in statements:
            con.execute(statement, params or [])


def audit_verify(store: Store) -> tuple[int, str]:
    return run_cli("audit", "verify", "--db", store.path)


def first_break(output: str) -> str:
    return output.splitlines()[0].split("first broken row: ", 1)[1]


def count(store: Store, table: str) -> int:
    return store.query(f"SELECT count(*) AS n FROM {table}")[0]["n"]


def audit_id(store: Store, action: str, case_id: str) -> int:
    return store.query("SELECT max(id) AS id FROM audit_log WHERE action = ? AND entity_id = ?", [action, case_id])[0]["id"]


def test_untouched_history_verifies_and_the_report_prints_its_head(history):
    store, *_ = history
    code, out = audit_verify(store)
    head = store.query("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")[0]
    assert code == 0 and out.startswith("OK history:"), out
    assert f"head audit_log {head['id']} sha256 {head['row_hash']}" in out
    # every decision, correction and gap row, every case and its evidence, is recorded in the chain with its full content
    recorded = store.query("SELECT record_table, count(DISTINCT record_key) AS n FROM audit_log"
                           " WHERE record_table IS NOT NULL GROUP BY ALL ORDER BY ALL")
    assert recorded == [{"record_table": "contraventions", "n": count(store, "contraventions")},
                        {"record_table": "decisions", "n": 2},
                        {"record_table": "evidence_cases", "n": count(store, "evidence_cases")},
                        {"record_table": "plate_corrections", "n": 1}, {"record_table": "whitelist_gaps", "n": 1}]
    code, report = run_cli("report", "--db", store.path)
    assert code == 0 and f"head audit_log {head['id']} sha256 {head['row_hash']}" in report.splitlines()[-1], report


def test_an_officer_swapped_is_named(history):
    store, _, validated, _ = history
    decision = store.query("SELECT id FROM decisions WHERE contravention_id = ?", [validated])[0]["id"]
    sql(store, f"UPDATE decisions SET officer = 'al' WHERE id = {decision}")
    code, out = audit_verify(store)
    assert code == 1, out
    assert first_break(out).startswith(f"decisions {decision}: differs from its record in audit_log ")
    assert "officer: recorded 'jo', now 'al'" in out


def test_a_reject_turned_into_a_validate_is_named(history):
    store, _, _, rejected = history
    decision = store.query("SELECT id FROM decisions WHERE contravention_id = ?", [rejected])[0]["id"]
    sql(store, f"UPDATE decisions SET action = 'validate', reason_code = NULL WHERE id = {decision}",
        f"UPDATE contraventions SET status = 'validated' WHERE id = '{rejected}'")
    code, out = audit_verify(store)
    assert code == 1 and first_break(out).startswith(f"decisions {decision}: "), out
    assert "action: recorded 'reject', now 'validate'" in out
    assert "reason_code: recorded 'permitted_not_whitelisted', now None" in out


@pytest.mark.parametrize("case, status, decided", [("rejected", "validated", "rejected"),
                                                    ("validated", "superseded", "validated"),  # so never exported
                                                    ("rejected", "pending", "rejected")])
def test_a_status_set_without_a_decision_is_named(history, case, status, decided):
    store, _, validated, rejected = history
    case_id = {"validated": validated, "rejected": rejected}[case]
    sql(store, f"UPDATE contraventions SET status = '{status}' WHERE id = '{case_id}'")
    code, out = audit_verify(store)
    assert code == 1, out
    decision = audit_id(store, f"review.{'validate' if decided == 'validated' else 'reject'}", case_id)
    assert first_break(out) == (f"contraventions {case_id}: status '{status}' is not backed by the history: "
                                f"audit_log {decision} says '{decided}'")


def test_a_forged_plate_is_named_and_neither_exported_nor_packed(history, tmp_path):
    store, _, validated, _ = history
    sql(store, f"UPDATE contraventions SET plate = 'XY99ZZZ' WHERE id = '{validated}'")
    corrected = audit_id(store, "review.plate_corrected", validated)
    named = (f"contraventions {validated}: plate 'XY99ZZZ' is not backed by the history: "
             f"audit_log {corrected} says 'OY09FEU'")
    code, out = audit_verify(store)
    assert code == 1 and first_break(out) == named, out
    code, out = run_cli("pack", "create", validated, "--db", store.path, "--out", tmp_path / "pack.zip")
    assert code == 1 and f"not packed: BROKEN history: 1 problems; first broken row: {named}" in out, out
    assert not (tmp_path / "pack.zip").exists()
    code, out = run_cli("export", "pcn", "--db", store.path, "--out", tmp_path / "pcn.csv")
    assert code == 1 and f"nothing exported: BROKEN history: 1 problems; first broken row: {named}" in out, out
    assert not (tmp_path / "pcn.csv").exists() and count(store, "exports") == 0


@pytest.mark.parametrize("column, value", [("first_seen", "first_seen + INTERVAL 1 HOUR"), ("vehicle_class", "'bus'"),
                                           ("camera_id", "'SZ-BUSLANE-02'"), ("plate_country", "'United Kingdom'")])
def test_a_fact_the_batch_recorded_changed_is_named(history, column, value):
    store, _, _, rejected = history
    was = store.query(f"SELECT CAST({column} AS VARCHAR) AS v FROM contraventions WHERE id = ?", [rejected])[0]["v"]
    sql(store, f"UPDATE contraventions SET {column} = {value} WHERE id = '{rejected}'")
    code, out = audit_verify(store)
    recorded = audit_id(store, "contravention.recorded", rejected)  # by the batch, with its footage file's row
    assert code == 1 and first_break(out).startswith(f"contraventions {rejected}: {column} "), out
    assert first_break(out).endswith(f" is not backed by the history: audit_log {recorded} says {was!r}"), out


def test_a_case_inserted_or_deleted_by_sql_is_named(history):
    store, _, validated, rejected = history
    sql(store, "INSERT INTO contraventions SELECT * REPLACE ('FORGED-1' AS id, 'p-forged' AS passage_id)"
               f" FROM contraventions WHERE id = '{validated}'", f"DELETE FROM contraventions WHERE id = '{rejected}'")
    code, out = audit_verify(store)
    assert code == 1, out
    assert first_break(out) == "contraventions FORGED-1: not in the history: no audit row records it " \
                               "(written outside the application?)"
    assert f"contraventions {rejected}: deleted: audit_log {audit_id(store, 'contravention.recorded', rejected)}" \
           " records it" in out


def test_reopening_rechecking_and_revalidating_keep_the_history_whole(night, tmp_path):
    """The chained events that change a case: a reopen, a correction, a whitelist recheck clearing it."""
    store, _, validated, rejected = decided(night, tmp_path / "copy")
    assert decisions.reopen(store, validated, User("sam", "supervisor"), "second look").ok
    assert decisions.validate(store, validated, JO).ok
    assert decisions.reopen(store, rejected, User("sam", "supervisor"), "gap closed").ok
    with store.transaction() as con:
        import_whitelist(con, parse_whitelist(b"plate,category,operator,valid_from,valid_to,source,notes\n"
                                              b"BX12BUS,bus,Northway Buses,2016-01-01,,fleet,\n", "t.csv"), "sam", True)
    assert corrections.correct_plate(store, rejected, JO, "BX12BUS").ok
    assert [c.contravention_id for c in recheck(store, "sam").cleared] == [rejected]
    code, out = audit_verify(store)
    assert code == 0, out
    assert store.query("SELECT status FROM contraventions WHERE id = ?", [rejected])[0]["status"] == "whitelisted"
    sql(store, f"UPDATE contraventions SET status = 'pending' WHERE id = '{rejected}'")
    code, out = audit_verify(store)
    cleared = audit_id(store, "whitelist.recheck_cleared", rejected)
    assert code == 1 and first_break(out) == (f"contraventions {rejected}: status 'pending' is not backed by the "
                                              f"history: audit_log {cleared} says 'whitelisted'"), out


FLEET = b"plate,category,operator,valid_from,valid_to,source,notes\n"


def test_an_entry_added_to_a_published_whitelist_is_named_before_a_recheck_honours_it(history):
    """The list a recheck clears cases against is the list as imported: an entry slipped into it by SQL
    (here for the validated car) shows, naming the version."""
    store, _, validated, _ = history
    with store.transaction() as con:
        version = import_whitelist(con, parse_whitelist(FLEET + b"BX12BUS,bus,Northway Buses,2016-01-01,,fleet,\n",
                                                        "fleet.csv"), "sam", True).version
    assert audit_verify(store)[0] == 0
    sql(store, "INSERT INTO whitelist_entries SELECT * REPLACE ('OY09FEU' AS plate) FROM whitelist_entries"
               " WHERE version_id = ?", params=[version])
    code, out = audit_verify(store)
    assert code == 1 and first_break(out).startswith(
        f"whitelist_versions {version}: its whitelist_entries were changed after it was written"), out
    sql(store, "DELETE FROM whitelist_entries")  # the forged entry and the real one
    code, out = audit_verify(store)
    assert code == 1 and first_break(out).startswith(f"whitelist_versions {version}: its whitelist_entries"), out


def test_whitelist_columns_follow_the_rechecks_and_one_set_by_sql_is_named(history):
    """A recheck that finds a near miss for a pending case records it in the history; a near miss
    removed (or an exempting entry written) by SQL is not backed by it."""
    store, _, validated, rejected = history
    assert decisions.reopen(store, rejected, User("sam", "supervisor"), "second look").ok
    assert corrections.correct_plate(store, rejected, JO, "LK17 ABC").ok
    near = "LK17ABD"  # one character off: a near miss, not exempt
    with store.transaction() as con:
        import_whitelist(con, parse_whitelist(FLEET + f"{near},bus,Northway Buses,2016-01-01,,fleet,\n".encode(),
                                              "fleet.csv"), "sam", True)
    assert recheck(store, "sam").near_misses == 1
    shown = store.query("SELECT whitelist_near_miss FROM contraventions WHERE id = ?", [rejected])[0]
    assert shown["whitelist_near_miss"] == f"possible whitelisted vehicle: {near} (bus, Northway Buses)"
    code, out = audit_verify(store)
    assert code == 0, out
    rechecked = audit_id(store, "whitelist.rechecked", rejected)
    sql(store, f"UPDATE contraventions SET whitelist_near_miss = NULL WHERE id = '{rejected}'",
        f"UPDATE contraventions SET whitelist_entry = 'OY09FEU (emergency, Ambulance)' WHERE id = '{validated}'")
    code, out = audit_verify(store)
    assert code == 1, out
    assert f"contraventions {rejected}: whitelist_near_miss None is not backed by the history: audit_log " \
           f"{rechecked} says 'possible whitelisted vehicle: {near} (bus, Northway Buses)'" in out
    assert f"contraventions {validated}: whitelist_entry 'OY09FEU (emergency, Ambulance)' is not backed" in out


def case_folder(store: Store, root: Path, case_id: str) -> Path:
    return root / store.query("SELECT folder FROM evidence_cases WHERE contravention_id = ?", [case_id])[0]["folder"]


def evidence_verify(store: Store) -> tuple[int, str]:
    return run_cli("evidence", "verify", "--all", "--db", store.path)


def test_a_picture_swapped_with_its_table_row_fails_against_the_chained_manifest(history, tmp_path):
    store, root, validated, _ = history
    folder = case_folder(store, root, validated)
    shutil.copy(folder / "plate.png", folder / "overview.png")  # another picture of the case, and its table row
    sha = hashlib.sha256((folder / "overview.png").read_bytes()).hexdigest()
    sql(store, "UPDATE evidence_files SET sha256 = ?, bytes = ? WHERE contravention_id = ? AND path = 'overview.png'",
        params=[sha, (folder / "overview.png").stat().st_size, validated])
    code, out = evidence_verify(store)
    assert code == 1 and f"FAILED {validated} ({folder}):\n  altered: overview.png\n" \
                         "  evidence_files row differs from the chained manifest: overview.png\n" in out, out
    code, out = run_cli("pack", "create", validated, "--db", store.path, "--out", tmp_path / "pack.zip")
    assert code == 1 and "altered: overview.png; evidence_files differs from the chained manifest: overview.png" in out
    # The manifest and SHA256SUMS rewritten to match, and the case's manifest hash: the chained record says otherwise.
    manifest = json.loads((folder / "manifest.json").read_text())
    for f in manifest["files"]:
        if f["path"] == "overview.png":
            f["sha256"] = sha
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    rehashed = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    sql(store, "UPDATE evidence_cases SET manifest_sha256 = ? WHERE contravention_id = ?", params=[rehashed, validated])
    code, out = evidence_verify(store)
    written = audit_id(store, "evidence.written", validated)
    assert code == 1 and f"FAILED {validated}: the history does not back its evidence: evidence_cases {validated}: " \
                         f"differs from its record in audit_log {written}: manifest_sha256: recorded " in out, out
    code, out = audit_verify(store)
    assert code == 1 and first_break(out).startswith(f"evidence_cases {validated}: differs from its record"), out


def test_a_manifest_or_sha256sums_edited_in_the_folder_alone_is_named(history):
    store, root, validated, rejected = history
    (case_folder(store, root, validated) / "SHA256SUMS").write_text("0" * 64 + "  overview.png\n")
    with open(case_folder(store, root, rejected) / "manifest.json", "a") as f:
        f.write(" ")
    code, out = evidence_verify(store)
    assert code == 1, out
    assert f"FAILED {validated} ({case_folder(store, root, validated)}):\n  altered: SHA256SUMS\n" in out, out
    assert f"FAILED {rejected} ({case_folder(store, root, rejected)}):\n  altered: manifest.json\n" in out, out


def test_evidence_marked_deleted_by_sql_is_not_taken_for_retention(history):
    store, root, _, rejected = history
    sql(store, f"UPDATE evidence_cases SET deleted_at = now(), deleted_by = 'x' WHERE contravention_id = '{rejected}'")
    shutil.rmtree(case_folder(store, root, rejected))
    written = audit_id(store, "evidence.written", rejected)
    named = f"evidence_cases {rejected}: differs from its record in audit_log {written}: deleted_at: recorded None, now "
    code, out = evidence_verify(store)
    assert code == 1 and f"FAILED {rejected}: the history does not back its evidence: {named}" in out, out
    assert "DELETED" not in out
    code, out = audit_verify(store)
    assert code == 1 and first_break(out).startswith(named) and "deleted_by: recorded None, now 'x'" in out, out
    code, report = run_cli("report", "--db", store.path)
    assert report.splitlines()[-1].startswith(f"BROKEN history: 1 problems; first broken row: {named}"), report


def test_evidence_deleted_by_retention_is_chained(history):
    store, root, _, rejected = history
    deleted = apply_retention(store, root, RetentionRules(), now=datetime(2016, 5, 1, tzinfo=timezone.utc))  # 44 days on
    assert [d.contravention_id for d in deleted] == [rejected]
    code, out = evidence_verify(store)
    assert code == 0 and f"DELETED {rejected}: by " in out, out
    code, out = audit_verify(store)
    assert code == 0, out


def test_an_audit_row_deleted_is_named_at_the_row_after_it(history):
    store, _, validated, _ = history
    rows = store.query("SELECT id, action FROM audit_log ORDER BY id")
    at = next(i for i, r in enumerate(rows) if r["action"] == "review.validate")
    deleted, after = rows[at]["id"], rows[at + 1]["id"]
    sql(store, f"DELETE FROM audit_log WHERE id = {deleted}")
    code, out = audit_verify(store)
    assert code == 1, out
    assert first_break(out).startswith(f"audit_log {after}: prev_hash ")
    assert "a row was deleted or inserted there" in first_break(out)
    # the decision that row recorded is no longer backed by the chain either
    assert "not in the history" in out


def test_an_appeal_hold_deleted_is_named(history):
    store, _, validated, _ = history
    appeals.hold(store, validated, "sam", "appeal lodged, TPT ref 2016/123")
    hold = store.query("SELECT id FROM appeal_holds")[0]["id"]
    sql(store, f"DELETE FROM appeal_holds WHERE id = {hold}")  # so that retention would delete the evidence
    code, out = audit_verify(store)
    assert code == 1 and first_break(out).startswith(f"appeal_holds {hold}: deleted: audit_log "), out


def test_an_audit_row_changed_is_named(history):
    store, *_ = history
    row = store.query("SELECT id FROM audit_log WHERE action = 'review.reject'")[0]["id"]
    sql(store, f"UPDATE audit_log SET actor = 'jo' WHERE id = {row}")
    code, out = audit_verify(store)
    assert code == 1 and first_break(out).startswith(f"audit_log {row}: its content no longer matches its row_hash")


def test_inserted_rows_are_named(history):
    store, _, validated, _ = history
    # A decision typed in with SQL: nothing in the chain records it.
    sql(store, "INSERT INTO decisions (contravention_id, officer, \"at\", action) VALUES (?, 'al', now(), 'reopen')",
        params=[validated])
    new = store.query("SELECT max(id) AS id FROM decisions")[0]["id"]
    code, out = audit_verify(store)
    assert code == 1 and first_break(out) == f"decisions {new}: not in the history: no audit row records it " \
                                             "(written outside the application?)", out
    # An audit row forged before the first one, hashed the way the application hashes: the next row's link breaks.
    forged = {"id": 0, "at": "2016-03-18T12:00:00+00:00", "actor": "jo", "action": "review.validate",
              "entity": "contravention", "entity_id": validated, "details": {}, "record_table": None,
              "record_key": None, "record": None, "prev_hash": "0" * 64}
    row_hash = hashlib.sha256(canonical(forged).encode()).hexdigest()
    sql(store, 'INSERT INTO audit_log (id, "at", actor, action, entity, entity_id, details, prev_hash, row_hash)'
        " VALUES (0, ?, 'jo', 'review.validate', 'contravention', ?, '{}', ?, ?)",
        params=[forged["at"], validated, "0" * 64, row_hash])
    code, out = audit_verify(store)
    assert code == 1 and first_break(out).startswith("audit_log 1: prev_hash "), out


def test_concurrent_writers_in_one_process_keep_one_chain(history):
    store, _, validated, rejected = history
    threads = [threading.Thread(target=cases.record_view, args=(store, case, officer))
               for case in (validated, rejected) for officer in ("jo", "al", "sam") for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    code, out = audit_verify(store)
    assert code == 0, out
    assert store.query("SELECT count(*) AS n FROM audit_log WHERE action = 'review.case_viewed'")[0]["n"] == 24


VIEWER = """
import sys
from pipeline.store import Store
from review_app.services.cases import record_view
store = Store(sys.argv[1])
for _ in range(10):
    record_view(store, sys.argv[2], sys.argv[3])
"""


def test_writers_in_two_processes_keep_one_chain(history):
    store, _, validated, rejected = history
    runs = [subprocess.Popen([sys.executable, "-c", VIEWER, str(store.path), case, officer])
            for case, officer in ((validated, "jo"), (rejected, "al"))]
    assert [r.wait() for r in runs] == [0, 0]
    code, out = audit_verify(store)
    assert code == 0, out
    assert store.query("SELECT count(*) AS n FROM audit_log WHERE action = 'review.case_viewed'")[0]["n"] == 20


def rechain(store: Store) -> None:
    """A forger's best rewrite: recompute every row's hash so the chain is consistent again."""
    with store.transaction() as con:
        names = [d[0] for d in con.execute("SELECT * FROM audit_log LIMIT 0").description]
        prev = "0" * 64
        for values in con.execute("SELECT * FROM audit_log ORDER BY id").fetchall():
            row = dict(zip(names, values))
            content = {k: v for k, v in row.items() if k != "row_hash"} | {"prev_hash": prev}
            content["details"] = json.loads(row["details"]) if row["details"] else None
            content["record"] = json.loads(row["record"]) if row["record"] else None
            prev = hashlib.sha256(canonical(content).encode()).hexdigest()
            con.execute("UPDATE audit_log SET prev_hash = ?, row_hash = ? WHERE id = ?", [content["prev_hash"], prev,
                                                                                         row["id"]])


def test_a_pack_made_before_a_rewrite_fails_against_the_database_after_it(night, tmp_path):
    store, root, validated, rejected = decided(night, tmp_path / "copy")
    pack = build_pack(store, validated, root, "jo", tmp_path / "pack.zip")
    assert verify_pack(pack.path, store).ok
    carried = json.loads(pack_member(pack.path, "manifest.json"))["history_head"]

    # Rewrite the validating officer in the decision and in its record, then re-hash the whole chain.
    decision = store.query("SELECT id FROM decisions WHERE contravention_id = ?", [validated])[0]["id"]
    sql(store, f"UPDATE decisions SET officer = 'al' WHERE id = {decision}",
        "UPDATE audit_log SET record = json_merge_patch(record, '{\"officer\": \"al\"}')"
        f" WHERE record_table = 'decisions' AND record_key = '{decision}'")
    rechain(store)
    code, out = audit_verify(store)
    assert code == 0, out  # consistent with itself: only a head printed or sent earlier tells
    result = verify_pack(pack.path, store)
    assert not result.ok, result.lines()
    assert any(f"the history head this pack carries (audit_log {carried['audit_id']} sha256 {carried['row_hash']})"
               " is no longer in" in p and "rewritten after the pack was made" in p for p in result.problems)
    code, out = run_cli("pack", "verify", pack.path, "--db", store.path)
    assert code == 1 and "is no longer in" in out


def migrated_copy(store: Store, path: Path) -> Store:
    """A copy of `store`'s file opened afresh, so its migrations run; its history must then verify."""
    shutil.copy(store.path, path)
    migrated = Store(path)
    code, out = audit_verify(migrated)
    assert code == 0, out
    return migrated


def sealed(store: Store) -> list[dict]:
    """Rows the migration recorded, counted by table."""
    return store.query("SELECT record_table, count(*) AS n FROM audit_log WHERE action = 'history.sealed'"
                       " GROUP BY ALL ORDER BY ALL")


def test_a_database_from_before_the_chain_is_chained_on_migration(history, tmp_path):
    store, _, validated, _ = history
    # Rows as written before the chain existed: no hashes, no records, and the chaining step not yet run.
    sql(store, "DELETE FROM audit_log WHERE action = 'history.sealed'",  # none on a fresh database; kept general
        "UPDATE audit_log SET record_table = NULL, record_key = NULL, record = NULL, prev_hash = NULL, row_hash = NULL",
        "DELETE FROM schema_version WHERE component = 'history'")
    migrated = migrated_copy(store, tmp_path / "legacy.duckdb")
    assert sealed(migrated) == [{"record_table": "contraventions", "n": count(migrated, "contraventions")},
                      {"record_table": "decisions", "n": 2},
                      {"record_table": "evidence_cases", "n": count(migrated, "evidence_cases")},
                      {"record_table": "plate_corrections", "n": 1}, {"record_table": "whitelist_gaps", "n": 1}]
    sql(migrated, "UPDATE decisions SET officer = 'al' WHERE contravention_id = ?", params=[validated])
    code, out = audit_verify(migrated)
    assert code == 1 and "officer: recorded 'jo', now 'al'" in first_break(out), out


def pack_member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith(f"/{name}")))


def test_a_database_chained_before_cases_and_evidence_were_is_sealed_on_migration(history, tmp_path):
    store, _, validated, _ = history
    # As the first chained release wrote it: no case or evidence records, the later sealing step not yet run.
    sql(store, "DELETE FROM audit_log WHERE action = 'contravention.recorded'",
        "UPDATE audit_log SET record_table = NULL, record_key = NULL, record = NULL"
        " WHERE record_table = 'evidence_cases'",
        "UPDATE schema_version SET version = 1 WHERE component = 'history'")
    rechain(store)
    migrated = migrated_copy(store, tmp_path / "chained.duckdb")
    assert sealed(migrated) == [{"record_table": "contraventions", "n": count(migrated, "contraventions")},
                      {"record_table": "evidence_cases", "n": count(migrated, "evidence_cases")}]
    sql(migrated, f"UPDATE contraventions SET plate = 'XY99ZZZ' WHERE id = '{validated}'")
    code, out = audit_verify(migrated)
    assert code == 1 and first_break(out).startswith(f"contraventions {validated}: plate 'XY99ZZZ' is not backed"), out


def test_a_database_from_before_whitelists_were_chained_is_sealed_on_migration(history, tmp_path):
    store, _, validated, rejected = history
    with store.transaction() as con:
        version = import_whitelist(con, parse_whitelist(FLEET + b"LK17ABD,bus,Northway Buses,2016-01-01,,fleet,\n",
                                                        "fleet.csv"), "sam", True).version
    assert decisions.reopen(store, rejected, User("sam", "supervisor"), "second look").ok
    assert corrections.correct_plate(store, rejected, JO, "LK17 ABC").ok  # a near miss of the entry
    # As the previous release wrote it: versions without a digest (DuckDB cannot drop the column of a
    # referenced table, so it is emptied and only the step filling it is left to run) or a record,
    # corrections without the whitelist entry and near miss in their details.
    sql(store, "UPDATE whitelist_versions SET entries_sha256 = NULL",
        "UPDATE audit_log SET record_table = NULL, record_key = NULL, record = NULL"
        " WHERE record_table = 'whitelist_versions'",
        "UPDATE audit_log SET details = json_object('old', details->>'old', 'new', details->>'new', 'format',"
        " details->>'format', 'whitelist_version', CAST(details->>'whitelist_version' AS INTEGER))"
        " WHERE action = 'review.plate_corrected'",
        "UPDATE schema_version SET version = 2 WHERE component = 'whitelist'",
        "UPDATE schema_version SET version = 2 WHERE component = 'history'")
    rechain(store)
    migrated = migrated_copy(store, tmp_path / "before-whitelists.duckdb")
    assert sealed(migrated) == [{"record_table": "contraventions", "n": 1}, {"record_table": "whitelist_versions", "n": 1}]
    sql(migrated, "UPDATE whitelist_entries SET valid_to = DATE '2016-01-02'")
    code, out = audit_verify(migrated)
    assert code == 1 and first_break(out).startswith(f"whitelist_versions {version}: its whitelist_entries were changed"), out
