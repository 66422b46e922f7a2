"""Officers deciding while the batch writes, and two officers deciding one case at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pipeline.store import Store
from review_app.bench import fill
from review_app.services import decisions
from review_app.services.queue import next_pending
from review_app.services.users import User

JO, AL = User("jo", "officer"), User("al", "officer")

# Like the batch: each round opens the file, holds a write transaction, commits and closes. The
# first round holds it for a second and a half, so the decision below has to wait its turn.
WRITER = textwrap.dedent("""
    import sys, time
    from pipeline.store import Store
    path, seconds = sys.argv[1], float(sys.argv[2])
    store = Store(path)  # opens like the batch: retrying while the app holds the file
    end, first = time.monotonic() + seconds, True
    while time.monotonic() < end:
        with store.connect() as con:
            con.begin()
            con.execute("INSERT INTO audit_log (\\"at\\", actor, action, entity) VALUES (now(), 'batch:test', 'batch.write', 'test')")
            if first:
                print("locked", flush=True)
            time.sleep(1.5 if first else 0.2)
            con.commit()
        first = False
        time.sleep(0.01)
    print("done", flush=True)
""")


@pytest.fixture
def night_db(night, tmp_path) -> Path:
    db = tmp_path / "night.duckdb"
    shutil.copy(night["db"], db)
    Store(db)  # bring the copy's schema up to date before another process opens it
    return db


def test_decision_waits_for_a_batch_write_instead_of_failing(night_db):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(night_db), "3"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        began = time.monotonic()
        store = Store(night_db)  # opening (and migrating) waits too
        case = next_pending(store)
        outcome = decisions.validate(store, case, JO, plate="AB51CDE")
        waited = time.monotonic() - began
    finally:
        rest, _ = writer.communicate(timeout=30)
    assert outcome.ok, outcome.message
    assert waited > 0.5  # it really met the lock
    assert rest.strip() == "done" and writer.returncode == 0  # and the writer was never disturbed
    store = Store(night_db)
    assert store.query("SELECT status FROM contraventions WHERE id = ?", [case])[0]["status"] == "validated"
    assert store.query("SELECT count(*) AS n FROM audit_log WHERE action = 'batch.write'")[0]["n"] >= 3


def test_two_sessions_deciding_one_case_at_once_record_one_decision(tmp_path):
    """Streamlit serves every officer from one process: simultaneous updates conflict in DuckDB."""
    store = Store(tmp_path / "race.duckdb")
    fill(store, 10, prefix="R")
    for i in range(10):
        case = f"R-{i:06d}"
        start = threading.Barrier(2)
        results: dict[str, decisions.Outcome] = {}

        def decide(user: User, action) -> None:
            start.wait()
            results[user.name] = action(user)

        threads = [
            threading.Thread(target=decide, args=(JO, lambda u: decisions.validate(store, case, u))),
            threading.Thread(target=decide, args=(AL, lambda u: decisions.reject(store, case, u, "duplicate"))),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [name for name, outcome in results.items() if outcome.ok]
        assert len(winners) == 1, results
        loser = results[({"jo", "al"} - set(winners)).pop()]
        assert f"by {winners[0]} at" in loser.message and "not recorded" in loser.message
    assert store.query("SELECT count(*) AS n, count(DISTINCT contravention_id) AS cases FROM decisions")[0] == {
        "n": 10, "cases": 10}


def test_two_processes_deciding_one_case_record_one_decision(night_db):
    case = next_pending(Store(night_db))
    other = textwrap.dedent(f"""
        from pipeline.store import Store
        from review_app.services import decisions
        from review_app.services.users import User
        print(decisions.reject(Store({str(night_db)!r}), {case!r}, User("al", "officer"), "duplicate").ok)
    """)
    proc = subprocess.Popen([sys.executable, "-c", other], stdout=subprocess.PIPE, text=True)
    mine = decisions.validate(Store(night_db), case, JO, plate="AB51CDE")
    theirs = proc.communicate(timeout=60)[0].strip() == "True"
    assert [mine.ok, theirs].count(True) == 1
    rows = Store(night_db).query("SELECT officer FROM decisions")
    assert rows == [{"officer": "jo" if mine.ok else "al"}]
