"""A history that proves itself: one sha256 hash chain through the audit log.

Design: the audit log is the single chain, and every write to a chained table (decisions, plate
corrections, whitelist gaps, packs, appeal holds, exports: CHAINED) writes the row's full content into the
audit row that records it (`record_table`, `record_key`, `record`).

- Each audit row carries `prev_hash`, the `row_hash` of the row before it (by id; GENESIS for the
  first), and `row_hash` = sha256 of the canonical JSON (sorted keys, timestamps as UTC ISO 8601) of
  its content and `prev_hash`. Changing an audit row breaks its own hash; deleting or inserting one
  breaks the link of the row after it.
- A chained table's row must equal the latest content the chain recorded for it (decisions,
  corrections and packs are written once; a gap is recorded again when it is closed). A changed row
  differs from its record, a deleted one leaves a record with no row, an inserted one has no record.
  A column added to a chained table after a row was recorded must still be NULL in that row.
- A case whose status is validated or rejected must have that as its latest recorded decision: a
  status set by plain SQL is not backed by the history.
- Someone who rewrites a row and recomputes every later hash makes a consistent chain, but with a
  new head: the morning report prints the head and every pack carries the head at the time it was
  made, so the rewrite shows against any head printed or sent before it.

Appends happen inside the writer's transaction: the head is read and the row inserted there.
DuckDB lets one process at a time open the file, and `Store.transaction` holds a per-database lock
within a process, so two writers never append after the same head. Rows that existed before the chain are chained in id order by the
migration (MIGRATIONS below), and every chained table's rows recorded in a `history.sealed` row.

>>> check = verify_chain(con)  # doctest: +SKIP
>>> check.ok, check.head.text()  # doctest: +SKIP
(True, 'audit_log 412 sha256 9c1f...')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb

GENESIS = "0" * 64
# The tables whose rows the chain records, with their key column. Decisions and corrections are
# review_app's, gaps whitelist's, packs and appeal holds evidence's, exports export's: named here, never imported.
CHAINED = {"decisions": "id", "plate_corrections": "id", "whitelist_gaps": "id", "packs": "id", "appeal_holds": "id",
           "exports": "id"}
# Statuses that only a decision sets, and the decision action that sets each.
DECIDED_BY = {"validated": "validate", "rejected": "reject"}
_AUDIT_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "details", "record_table", "record_key",
                  "record", "prev_hash", "row_hash")
_SELECT_AUDIT = f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in _AUDIT_COLUMNS)} FROM audit_log ORDER BY id"


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)  # e.g. a Path in an audit row's details


def canonical(value: object) -> str:
    """Sorted-key JSON with UTC ISO timestamps: the same content always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _row_hash(content: dict) -> str:
    return hashlib.sha256(canonical(content).encode()).hexdigest()


@dataclass(frozen=True)
class Head:
    """The chain's last row: anything rewritten before it changes its hash."""
    audit_id: int
    row_hash: str

    def text(self) -> str:
        return f"audit_log {self.audit_id} sha256 {self.row_hash}"


@dataclass(frozen=True)
class Break:
    table: str
    key: str
    what: str

    def text(self) -> str:
        return f"{self.table} {self.key}: {self.what}"


@dataclass(frozen=True)
class ChainCheck:
    rows: int                       # audit rows walked
    records: int                    # chained-table rows compared with their records
    head: Head | None
    breaks: tuple[Break, ...]       # first broken row first

    @property
    def ok(self) -> bool:
        return not self.breaks

    def lines(self) -> list[str]:
        head = self.head.text() if self.head else "empty"
        if self.ok:
            return [f"OK history: {self.rows} audit rows chained, {self.records} decisions, corrections, gaps, "
                    f"packs, appeal holds and exports match their records; head {head}"]
        return [f"BROKEN history: {len(self.breaks)} problems; first broken row: {self.breaks[0].text()}",
                *(f"  {b.text()}" for b in self.breaks), f"  (head as stored: {head})"]


def head(con: duckdb.DuckDBPyConnection) -> Head | None:
    row = con.execute("SELECT id, row_hash FROM audit_log WHERE row_hash IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    return Head(*row) if row else None


def append(con: duckdb.DuckDBPyConnection, at: datetime, actor: str, action: str, entity: str,
           entity_id: str | None, details: dict, snapshot: tuple[str, object] | None = None) -> Head:
    """Append one audit row after the current head; call inside the writer's transaction.

    `snapshot` (table, key) records that chained row's current content with it.
    """
    last = head(con)
    audit_id = con.execute("SELECT nextval('audit_seq')").fetchone()[0]
    record_table = record_key = record = None
    if snapshot is not None:
        record_table, key = snapshot
        record_key = str(key)
        record = canonical(_current(con, record_table, record_key))
    # Hashed exactly as verify_chain will read it back: text columns as text, JSON as parsed JSON.
    content = {"id": audit_id, "at": at, "actor": str(actor), "action": str(action), "entity": str(entity),
               "entity_id": None if entity_id is None else str(entity_id), "details": json.loads(canonical(details)),
               "record_table": record_table, "record_key": record_key,
               "record": json.loads(record) if record else None, "prev_hash": last.row_hash if last else GENESIS}
    row_hash = _row_hash(content)
    con.execute(
        'INSERT INTO audit_log (id, "at", actor, action, entity, entity_id, details, record_table, record_key, record,'
        " prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [audit_id, at, content["actor"], content["action"], content["entity"], content["entity_id"],
         canonical(details), record_table, record_key, record, content["prev_hash"], row_hash],
    )
    return Head(audit_id, row_hash)


def _current(con: duckdb.DuckDBPyConnection, table: str, key: str) -> dict:
    cur = con.execute(f"SELECT * FROM {table} WHERE CAST({CHAINED[table]} AS VARCHAR) = ?", [key])
    row = cur.fetchone()
    if row is None:
        raise LookupError(f"{table} {key}: no such row to record in the history")
    return dict(zip([d[0] for d in cur.description], row))


def verify_chain(con: duckdb.DuckDBPyConnection) -> ChainCheck:
    """Walk the whole chain, compare every chained table with its records, check decided statuses."""
    cur = con.execute(_SELECT_AUDIT)
    breaks: list[Break] = []
    expected_prev, last, rows = GENESIS, None, 0
    records: dict[tuple[str, str], tuple[int, dict]] = {}
    for values in cur.fetchall():
        row = dict(zip(_AUDIT_COLUMNS, values))
        rows += 1
        key = str(row["id"])
        if row["row_hash"] is None:
            breaks.append(Break("audit_log", key, "not chained: it has no row_hash (inserted outside the application)"))
        else:
            if row["prev_hash"] != expected_prev:
                breaks.append(Break("audit_log", key, f"prev_hash {row['prev_hash']} is not the row_hash of the row "
                                    f"before it ({last or 'none'}, {expected_prev}): a row was deleted or inserted there"))
            content = {c: row[c] for c in _AUDIT_COLUMNS if c != "row_hash"}
            try:
                content["details"] = json.loads(row["details"]) if row["details"] is not None else None
                content["record"] = json.loads(row["record"]) if row["record"] is not None else None
                same = _row_hash(content) == row["row_hash"]
            except ValueError:
                same = False
            if not same:
                breaks.append(Break("audit_log", key, "its content no longer matches its row_hash: changed after it "
                                    f"was written (actor {row['actor']!r}, action {row['action']!r})"))
            if row["record_table"] is not None and same:
                records[(row["record_table"], row["record_key"])] = (row["id"], content["record"])
        expected_prev, last = row["row_hash"], f"id {row['id']}"
    compared = 0
    for table, key_column in CHAINED.items():
        cur = con.execute(f"SELECT * FROM {table} ORDER BY {key_column}")
        names = [d[0] for d in cur.description]
        present = set()
        for values in cur.fetchall():
            row = json.loads(canonical(dict(zip(names, values))))
            key = str(row[key_column])
            present.add(key)
            compared += 1
            if (table, key) not in records:
                breaks.append(Break(table, key, "not in the history: no audit row records it (written outside the "
                                    "application?)"))
                continue
            audit_id, recorded = records[(table, key)]
            differ = [f"{c}: recorded {recorded[c]!r}, now {row[c]!r}" for c in names
                      if (recorded[c] if c in recorded else None) != row[c]]
            if differ:
                breaks.append(Break(table, key, f"differs from its record in audit_log {audit_id}: {'; '.join(differ)}"))
        breaks += [Break(table, key, f"deleted: audit_log {audit_id} records it")
                   for (t, key), (audit_id, _) in records.items() if t == table and key not in present]
    breaks += _unbacked_statuses(con)
    return ChainCheck(rows, compared, head(con), tuple(breaks))


def _unbacked_statuses(con: duckdb.DuckDBPyConnection) -> list[Break]:
    rows = con.execute(
        """SELECT c.id, c.status, d.id, d.action FROM contraventions c
           LEFT JOIN (SELECT contravention_id, max(id) AS id FROM decisions GROUP BY contravention_id) last
             ON last.contravention_id = c.id
           LEFT JOIN decisions d ON d.id = last.id
           WHERE c.status IN ?""", [list(DECIDED_BY)]).fetchall()
    return [Break("contraventions", case_id, f"status {status!r} is not backed by the history: its last decision is "
                  + (f"decisions {decision_id} ({action!r})" if decision_id is not None else "none"))
            for case_id, status, decision_id, action in rows if action != DECIDED_BY[status]]


def seal_existing(con: duckdb.DuckDBPyConnection) -> None:
    """Migration: chain the audit rows written before the chain, then record every chained row."""
    expected_prev = GENESIS
    for values in con.execute(_SELECT_AUDIT).fetchall():
        row = dict(zip(_AUDIT_COLUMNS, values))
        content = {c: row[c] for c in _AUDIT_COLUMNS if c != "row_hash"} | {"prev_hash": expected_prev}
        content["details"] = json.loads(row["details"]) if row["details"] is not None else None
        expected_prev = _row_hash(content)
        con.execute("UPDATE audit_log SET prev_hash = ?, row_hash = ? WHERE id = ?",
                    [content["prev_hash"], expected_prev, row["id"]])
    at = datetime.now(timezone.utc)
    for table, key_column in CHAINED.items():
        for (key,) in con.execute(f"SELECT {key_column} FROM {table} ORDER BY {key_column}").fetchall():
            append(con, at, "migration", "history.sealed", table, str(key), {}, (table, key))


# The "history" component's migrations, applied after every other component's (see pipeline.store).
MIGRATIONS: list[str | Callable[[duckdb.DuckDBPyConnection], None]] = [seal_existing]
