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
from pathlib import Path

import pytest

from evidence import appeals
from evidence.pack.builder import build_pack
from evidence.pack.verify import verify_pack
from pipeline.history import canonical
from pipeline.store import Store
from review_app.services import cases, corrections, decisions
from review_app.services.users import User
from tests.test_pack import copy_night, run_cli

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


def test_untouched_history_verifies_and_the_report_prints_its_head(history):
    store, *_ = history
    code, out = audit_verify(store)
    head = store.query("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")[0]
    assert code == 0 and out.startswith("OK history:"), out
    assert f"head audit_log {head['id']} sha256 {head['row_hash']}" in out
    # every decision, correction and gap row is recorded in the chain with its full content
    recorded = store.query("SELECT record_table, count(*) AS n FROM audit_log WHERE record_table IS NOT NULL"
                           " GROUP BY ALL ORDER BY ALL")
    assert recorded == [{"record_table": "decisions", "n": 2}, {"record_table": "plate_corrections", "n": 1},
                        {"record_table": "whitelist_gaps", "n": 1}]
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


def test_a_status_set_without_a_decision_is_named(history):
    store, _, _, rejected = history
    sql(store, f"UPDATE contraventions SET status = 'validated' WHERE id = '{rejected}'")
    code, out = audit_verify(store)
    assert code == 1, out
    assert first_break(out).startswith(f"contraventions {rejected}: status 'validated' is not backed by the history")


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


def test_a_database_from_before_the_chain_is_chained_on_migration(history, tmp_path):
    store, _, validated, _ = history
    # Rows as written before the chain existed: no hashes, no records, and the chaining step not yet run.
    sql(store, "DELETE FROM audit_log WHERE action = 'history.sealed'",  # none on a fresh database; kept general
        "UPDATE audit_log SET record_table = NULL, record_key = NULL, record = NULL, prev_hash = NULL, row_hash = NULL",
        "DELETE FROM schema_version WHERE component = 'history'")
    legacy = tmp_path / "legacy.duckdb"
    shutil.copy(store.path, legacy)
    migrated = Store(legacy)
    code, out = audit_verify(migrated)
    assert code == 0, out
    sealed = migrated.query("SELECT record_table, count(*) AS n FROM audit_log WHERE action = 'history.sealed'"
                            " GROUP BY ALL ORDER BY ALL")
    assert sealed == [{"record_table": "decisions", "n": 2}, {"record_table": "plate_corrections", "n": 1},
                      {"record_table": "whitelist_gaps", "n": 1}]
    sql(migrated, "UPDATE decisions SET officer = 'al' WHERE contravention_id = ?", params=[validated])
    code, out = audit_verify(migrated)
    assert code == 1 and "officer: recorded 'jo', now 'al'" in first_break(out), out


def pack_member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith(f"/{name}")))
