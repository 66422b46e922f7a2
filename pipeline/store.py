"""The DuckDB store: schema migrations, short-lived connections, and the batch's writes.

DuckDB lets one process hold a database file at a time. Nothing here keeps a connection open
between operations: the batch computes a whole footage file in memory, then writes it in one short
transaction; the review app opens, reads or writes, and closes. A caller that finds the file
locked retries for up to `busy_timeout` seconds, so the batch and the review app share one file.

>>> store = Store("var/demo.duckdb")  # doctest: +SKIP
>>> with store.connect() as con:
...     con.sql("select count(*) from contraventions").fetchone()
"""

from __future__ import annotations

import getpass
import importlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from pipeline import history

# Each component owns an ordered list of migration steps (SQL strings, or a function of the
# connection for work SQL cannot do) in its own module; the store applies the steps each database
# has not yet seen, recorded in schema_version.
SCHEMA_MODULES = {
    "core": "pipeline.schema",
    "whitelist": "whitelist.schema",
    "review": "review_app.schema",
    "packs": "evidence.pack.schema",
    "evidence": "evidence.schema",
    "export": "export.schema",
    "history": "pipeline.history",  # last: it chains and records the rows the others' tables hold
}
# One write transaction at a time per database within a process (DuckDB's file lock keeps other
# processes out), so each appends to the audit chain after the head the last one committed.
_write_locks: dict[Path, threading.RLock] = {}
_write_locks_guard = threading.Lock()


class StoreBusy(RuntimeError):
    """Another process held the database longer than the busy timeout."""


def now() -> datetime:
    return datetime.now(timezone.utc)


def default_actor() -> str:
    return f"batch:{getpass.getuser()}@{socket.gethostname()}"


class Store:
    def __init__(self, path: str | Path, busy_timeout: float = 60.0):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as con:
            migrate(con)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.02
        while True:
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as e:
                if "lock" not in str(e).lower():
                    raise
                if time.monotonic() > deadline:
                    raise StoreBusy(f"{self.path}: still in use by another process after {self.busy_timeout:g} s") from e
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with _write_lock(self.path), self.connect() as con:
            con.begin()
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            con.commit()

    def query(self, sql: str, params: list | None = None) -> list[dict]:
        """Run a read and return rows as dicts (the connection is closed before returning)."""
        with self.connect() as con:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]


def _write_lock(path: Path) -> threading.RLock:
    with _write_locks_guard:
        return _write_locks.setdefault(path.resolve(), threading.RLock())


def audit(con: duckdb.DuckDBPyConnection, actor: str, action: str, entity: str, entity_id: str | None,
          snapshot: tuple[str, object] | None = None, *, made: Sequence[str] = (), **details) -> None:
    """Append one row to the audit log's hash chain (never updated or deleted); call inside a transaction.

    `snapshot` = (table, key) of a row just written to a chained table (pipeline.history.CHAINED):
    its full content goes into the chain with this row. `made`: the contraventions this write added,
    recorded in the chain before it.
    """
    history.append(con, now(), actor, action, entity, entity_id, details, snapshot, made)


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (component VARCHAR PRIMARY KEY, version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    for component, module in SCHEMA_MODULES.items():
        steps: list[str] = importlib.import_module(module).MIGRATIONS
        row = con.execute("SELECT version FROM schema_version WHERE component = ?", [component]).fetchone()
        done = row[0] if row else 0
        for step in steps[done:]:
            step(con) if callable(step) else con.execute(step)
        if len(steps) > done:
            con.execute(
                "INSERT OR REPLACE INTO schema_version VALUES (?, ?, ?)", [component, len(steps), now()]
            )
