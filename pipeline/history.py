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
- Every contravention is recorded too: the batch writes its cases in the transaction that ends with
  the audit row about their footage file or joined passage, and appending that row first records the
  full row of each case it names as made (only those: a case slipped in by SQL under the same file's
  id stays unrecorded when the file is run again). Afterwards only chained events change a case: a
  decision, a whitelist recheck clearing it or a join superseding it sets its status, a correction
  its plate and plate format, a correction or a whitelist recheck its whitelist columns
  (CASE_EVENTS). So every column of a case must equal its record, or the value the latest event
  after that record set: a status, plate, time, class, camera or whitelist entry set by plain SQL is
  not backed by the history.
- A chained row vouches for the many rows written with it by a digest column (DIGESTS): a whitelist
  version records the sha256 of its entries, recomputed on every check, so an entry added to a
  published list by SQL (which a recheck would then honour) shows.
- Someone who rewrites a row and recomputes every later hash makes a consistent chain, but with a
  new head: the morning report prints the head and every pack carries the head at the time it was
  made, so the rewrite shows against any head printed or sent before it.

Appends happen inside the writer's transaction: the head is read and the row inserted there.
DuckDB lets one process at a time open the file, and `Store.transaction` holds a per-database lock
within a process, so two writers never append after the same head. Rows that existed before the chain are chained in id order by the
migration (MIGRATIONS below), and every chained table's rows recorded in a `history.sealed` row; a
table chained later (contraventions, evidence cases) has its existing rows sealed the same way by a
later step, so an old database verifies, and only what is changed after the seal shows.

>>> check = verify_chain(con)  # doctest: +SKIP
>>> check.ok, check.head.text()  # doctest: +SKIP
(True, 'audit_log 412 sha256 9c1f...')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb

GENESIS = "0" * 64
# The tables whose rows the chain records, with their key column. Decisions and corrections are
# review_app's, gaps whitelist's, packs and appeal holds evidence's, exports export's: named here, never imported.
# Evidence cases are evidence's too: a deletion by retention is recorded, so one set by SQL shows.
CHAINED = {"decisions": "id", "plate_corrections": "id", "whitelist_gaps": "id", "packs": "id", "appeal_holds": "id",
           "exports": "id", "evidence_cases": "contravention_id", "whitelist_versions": "id"}
CASES = "contraventions"
RECORDED = CHAINED | {CASES: "id"}
# The events that change a recorded case (audit rows about it, by action): the status each sets, and
# the details that hold a correction's plate and format, a join's superseding passage and the
# whitelist columns a correction or recheck set.
CORRECTED, SUPERSEDED = "review.plate_corrected", "segments.case_superseded"
CLEARED, RECHECKED = "whitelist.recheck_cleared", "whitelist.rechecked"
STATUS_SET_BY = {"review.validate": "validated", "review.reject": "rejected", "review.reopen": "pending",
                 CLEARED: "whitelisted"}
# column: (the actions whose details set it, the detail's name)
CASE_EVENTS = {"plate": ((CORRECTED,), "new"), "plate_format": ((CORRECTED,), "format"),
               "superseded_by": ((SUPERSEDED,), "joined_passage"),
               **{c: ((CORRECTED, CLEARED, RECHECKED), c) for c in ("whitelist_version", "whitelist_entry",
                                                                     "whitelist_near_miss")}}
# table: (its digest column, the table of the rows it vouches for, their column holding its key)
DIGESTS = {"whitelist_versions": ("entries_sha256", "whitelist_entries", "version_id")}
_AUDIT_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "details", "record_table", "record_key",
                  "record", "prev_hash", "row_hash")
_FROM_AUDIT = f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in _AUDIT_COLUMNS)} FROM audit_log"
_SELECT_AUDIT = f"{_FROM_AUDIT} ORDER BY id"
NOT_RECORDED = "not in the history: no audit row records it (written outside the application?)"


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
    records: int                    # chained-table rows and contraventions compared with their records
    head: Head | None
    breaks: tuple[Break, ...]       # first broken row first

    @property
    def ok(self) -> bool:
        return not self.breaks

    def lines(self) -> list[str]:
        head = self.head.text() if self.head else "empty"
        if self.ok:
            return [f"OK history: {self.rows} audit rows chained, {self.records} decisions, corrections, gaps, "
                    f"packs, appeal holds, exports, evidence cases, whitelist versions (with their entries) and contraventions "
                    f"match their records; head {head}"]
        return [self.refusal(), *(f"  {b.text()}" for b in self.breaks), f"  (head as stored: {head})"]

    def refusal(self) -> str:
        """The first line of a broken chain's report: why nothing may be made from it."""
        return f"BROKEN history: {len(self.breaks)} problems; first broken row: {self.breaks[0].text()}"


def head(con: duckdb.DuckDBPyConnection) -> Head | None:
    row = con.execute("SELECT id, row_hash FROM audit_log WHERE row_hash IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    return Head(*row) if row else None


@dataclass(frozen=True)
class Entry:
    """One audit row to append: `snapshot` (table, key) records that chained row's current content with it."""
    action: str
    entity: str
    entity_id: str | None
    details: dict
    snapshot: tuple[str, object] | None = None


def append(con: duckdb.DuckDBPyConnection, at: datetime, actor: str, action: str, entity: str,
           entity_id: str | None, details: dict, snapshot: tuple[str, object] | None = None,
           made: Sequence[str] = ()) -> Head:
    """Append one audit row after the current head; call inside the writer's transaction.

    `made`: the ids of the contraventions this write made (a footage file's, a joined passage's),
    each recorded in a row of its own first.
    """
    recorded = [Entry("contravention.recorded", "contravention", case_id, {}, (CASES, case_id)) for case_id in made]
    return append_all(con, at, actor, [*recorded, Entry(action, entity, entity_id, details, snapshot)])


def append_all(con: duckdb.DuckDBPyConnection, at: datetime, actor: str, entries: Sequence[Entry]) -> Head:
    """Append `entries` in order after the current head, in one insert: a statement costs about a
    millisecond, and sealing 5,000 cases one row at a time took 25 s."""
    last = head(con)
    prev = last.row_hash if last else GENESIS
    ids = sorted(i for (i,) in con.execute("SELECT nextval('audit_seq') FROM range(?)", [len(entries)]).fetchall())
    wanted: dict[str, list[str]] = {}
    for e in entries:
        if e.snapshot is not None:
            wanted.setdefault(e.snapshot[0], []).append(str(e.snapshot[1]))
    current = {(table, key): row for table, keys in wanted.items() for key, row in _current_rows(con, table, keys).items()}
    columns: dict[str, list] = {c: [] for c in _AUDIT_COLUMNS}
    for audit_id, e in zip(ids, entries):
        record_table = record_key = record = None
        if e.snapshot is not None:
            record_table, record_key = e.snapshot[0], str(e.snapshot[1])
            if (record_table, record_key) not in current:
                raise LookupError(f"{record_table} {record_key}: no such row to record in the history")
            record = canonical(current[record_table, record_key])
        # Hashed exactly as verify_chain will read it back: text columns as text, JSON as parsed JSON.
        content = {"id": audit_id, "at": at, "actor": str(actor), "action": str(e.action), "entity": str(e.entity),
                   "entity_id": None if e.entity_id is None else str(e.entity_id),
                   "details": json.loads(canonical(e.details)), "record_table": record_table,
                   "record_key": record_key, "record": json.loads(record) if record else None, "prev_hash": prev}
        prev = _row_hash(content)
        stored = content | {"details": canonical(e.details), "record": record, "row_hash": prev}
        for c in _AUDIT_COLUMNS:
            columns[c].append(stored[c])
    names = ", ".join(f'"{c}"' for c in _AUDIT_COLUMNS)
    con.execute(f"INSERT INTO audit_log ({names}) SELECT {', '.join(f'unnest(${i + 1})' for i in range(len(columns)))}",
                list(columns.values()))
    return Head(ids[-1], prev)


def _current_rows(con: duckdb.DuckDBPyConnection, table: str, keys: Sequence[str]) -> dict[str, dict]:
    """The current rows of `table` with these keys, by key (as text)."""
    key_column = RECORDED[table]
    cur = con.execute(f"SELECT * FROM {table} WHERE CAST({key_column} AS VARCHAR) IN (SELECT unnest(?))", [list(keys)])
    names = [d[0] for d in cur.description]
    return {str(row[key_column]): row for row in (dict(zip(names, values)) for values in cur.fetchall())}


def _current(con: duckdb.DuckDBPyConnection, table: str, key: str) -> dict | None:
    return _current_rows(con, table, [key]).get(key)


def _parsed(row: dict) -> tuple[dict, bool]:
    """An audit row's hashed content (its JSON columns parsed), and whether it still matches its row_hash."""
    content = {c: row[c] for c in _AUDIT_COLUMNS if c != "row_hash"}
    try:
        content["details"] = json.loads(row["details"]) if row["details"] is not None else None
        content["record"] = json.loads(row["record"]) if row["record"] is not None else None
    except ValueError:
        return content, False
    return content, _row_hash(content) == row["row_hash"]


def _differences(row: dict, recorded: dict) -> list[str]:
    """Columns of a chained row (canonical JSON values) that differ from its record; a column added
    to the table after the row was recorded must still be NULL."""
    return [f"{c}: recorded {recorded.get(c)!r}, now {value!r}" for c, value in row.items() if recorded.get(c) != value]


def check_row(con: duckdb.DuckDBPyConnection, table: str, key: str) -> Break | None:
    """What `verify_chain` says of one chained row, without walking the whole chain: it must equal its
    latest record, and the audit row holding that record must still match its own hash."""
    values = con.execute(f"{_FROM_AUDIT} WHERE record_table = ? AND record_key = ?"
                         " ORDER BY id DESC LIMIT 1", [table, key]).fetchone()
    current = _current(con, table, key)
    row = None if current is None else json.loads(canonical(current))
    if values is None:
        return None if row is None else Break(table, key, NOT_RECORDED)
    audit = dict(zip(_AUDIT_COLUMNS, values))
    content, intact = _parsed(audit)
    if not intact:
        return Break("audit_log", str(audit["id"]), f"the row that records {table} {key} no longer matches its "
                     "row_hash: changed after it was written")
    if row is None:
        return Break(table, key, f"deleted: audit_log {audit['id']} records it")
    if differ := _differences(row, content["record"]):
        return Break(table, key, f"differs from its record in audit_log {audit['id']}: {'; '.join(differ)}")
    return None



def verify_chain(con: duckdb.DuckDBPyConnection) -> ChainCheck:
    """Walk the whole chain, compare every chained table and every contravention with their records."""
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
            content, same = _parsed(row)
            if not same:
                breaks.append(Break("audit_log", key, "its content no longer matches its row_hash: changed after it "
                                    f"was written (actor {row['actor']!r}, action {row['action']!r})"))
            if row["record_table"] in CHAINED and same:  # contraventions: compared in SQL (_case_breaks)
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
                breaks.append(Break(table, key, NOT_RECORDED))
                continue
            audit_id, recorded = records[(table, key)]
            if differ := _differences(row, recorded):
                breaks.append(Break(table, key, f"differs from its record in audit_log {audit_id}: {'; '.join(differ)}"))
        breaks += [Break(table, key, f"deleted: audit_log {audit_id} records it")
                   for (t, key), (audit_id, _) in records.items() if t == table and key not in present]
    cases, case_breaks = _case_breaks(con)
    return ChainCheck(rows, compared + cases, head(con), tuple(breaks + case_breaks + _digest_breaks(con)))


def _digests_sql(table: str) -> str:
    """(key, digest) of each key's rows in a DIGESTS table: sha256 of their JSON texts, sorted, one a line."""
    _, rows, parent = DIGESTS[table]
    return (f"SELECT k, sha256(string_agg(j, chr(10) ORDER BY j)) AS digest FROM"
            f" (SELECT {parent} AS k, CAST(to_json(t) AS VARCHAR) AS j FROM {rows} t) GROUP BY k")


def store_digest(con: duckdb.DuckDBPyConnection, table: str, key: object) -> None:
    """Write a DIGESTS row's digest of the rows written with it (sha256 of '' for none); call once
    they are all written, before the row is recorded."""
    column = DIGESTS[table][0]
    con.execute(f"UPDATE {table} SET {column} = coalesce((SELECT digest FROM ({_digests_sql(table)}) WHERE k = ?),"
                f" sha256('')) WHERE {RECORDED[table]} = ?", [key, key])


def _digest_breaks(con: duckdb.DuckDBPyConnection) -> list[Break]:
    breaks = []
    for table, (column, rows, parent) in DIGESTS.items():
        key = RECORDED[table]
        for k, stored, actual in con.execute(
                f"SELECT coalesce(p.{key}, d.k), p.{column}, coalesce(d.digest, sha256('')) FROM {table} p"
                f" FULL JOIN ({_digests_sql(table)}) d ON d.k = p.{key}"
                f" WHERE p.{column} IS DISTINCT FROM coalesce(d.digest, sha256('')) ORDER BY 1").fetchall():
            what = (f"its {rows} were changed after it was written: their sha256 is {actual}, it records {stored}"
                    if stored is not None else f"{rows} with {parent} {k}, which has no such row")
            breaks.append(Break(table, str(k), what))
    return breaks


def _case_breaks(con: duckdb.DuckDBPyConnection) -> tuple[int, list[Break]]:
    """(contraventions compared, breaks): every case against its latest record and the events chained
    after it, in one query; each disagreeing column names the audit row that says otherwise."""
    breaks = []
    for case_id, audit_id, gone, unrecorded, differ in _unbacked_cases(con):
        if gone:
            breaks.append(Break(CASES, case_id, f"deleted: audit_log {audit_id} records it"))
        elif unrecorded:
            breaks.append(Break(CASES, case_id, NOT_RECORDED))
        else:
            breaks.append(Break(CASES, case_id, "; ".join(
                f"{d['column']} {d['now']!r} is not backed by the history: audit_log {d['source']} says {d['expected']!r}"
                for d in differ)))
    return con.execute(f"SELECT count(*) FROM {CASES}").fetchone()[0], breaks


def _unbacked_cases(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, bool, bool, list[dict]]]:
    """(case id, its latest record's audit id, deleted?, never recorded?, its disagreeing columns) of
    each case that differs from its history."""
    checks = []
    for name, type_ in con.execute("SELECT column_name, data_type FROM information_schema.columns"
                                   " WHERE table_name = ? ORDER BY ordinal_position", [CASES]).fetchall():
        recorded = _typed(f"r.record->>'{name}'", type_)  # a column added after the record: NULL, as the row's must be
        now = f'CAST(c."{name}" AS VARCHAR)' if type_ == "JSON" else f'c."{name}"'
        expected, source = recorded, "r.audit_id"
        if name == "status" or name in CASE_EVENTS:  # the latest event's value, NULL included
            expected = f"CASE WHEN e.{name}_at IS NULL THEN {recorded} ELSE {_typed(f'e.{name}', type_)} END"
            source = f"coalesce(e.{name}_at, r.audit_id)"
        checks.append(f"CASE WHEN {expected} IS DISTINCT FROM {now} THEN {{'column': '{name}', "
                      f"'expected': CAST({expected} AS VARCHAR), 'now': CAST({now} AS VARCHAR), 'source': {source}}} END")
    sets_status = " ".join(f"WHEN '{action}' THEN '{status}'" for action, status in STATUS_SET_BY.items())
    picks = "".join(f", arg_max(details->>'{field}', audit_id) FILTER (WHERE action IN ({_quoted(actions)})) AS {column}"
                    f", max(audit_id) FILTER (WHERE action IN ({_quoted(actions)})) AS {column}_at"
                    for column, (actions, field) in CASE_EVENTS.items())
    return con.execute(f"""
        WITH rec AS (
            SELECT record_key AS case_id, max(id) AS audit_id, arg_max(record, id) AS record
            FROM audit_log WHERE record_table = '{CASES}' GROUP BY record_key
        ), events AS (
            SELECT a.entity_id AS case_id, a.id AS audit_id, a.action, a.details,
                   CASE a.action {sets_status} WHEN '{SUPERSEDED}' THEN  -- a decided half keeps its status
                       CASE WHEN a.details->>'status' = 'pending' THEN 'superseded' END END AS status
            FROM audit_log a JOIN rec ON rec.case_id = a.entity_id AND a.id > rec.audit_id
            WHERE a.entity = 'contravention' AND a.action IN ?
        ), changed AS (
            SELECT case_id, arg_max(status, audit_id) FILTER (WHERE status IS NOT NULL) AS status,
                   max(audit_id) FILTER (WHERE status IS NOT NULL) AS status_at {picks}
            FROM events GROUP BY case_id
        ), compared AS (
            SELECT coalesce(c.id, r.case_id) AS case_id, r.audit_id, c.id IS NULL AS gone, r.case_id IS NULL AS unrecorded,
                   list_filter([{', '.join(checks)}], lambda d: d IS NOT NULL) AS differ
            FROM {CASES} c FULL JOIN rec r ON r.case_id = c.id LEFT JOIN changed e ON e.case_id = c.id
        )
        SELECT case_id, audit_id, gone, unrecorded, differ FROM compared
        WHERE gone OR unrecorded OR len(differ) > 0 ORDER BY case_id""",
                       [[*STATUS_SET_BY, *(a for actions, _ in CASE_EVENTS.values() for a in actions)]]).fetchall()


def _typed(text: str, type_: str) -> str:
    """JSON text read back as a column of `type_`."""
    return text if type_ in ("VARCHAR", "JSON") else f"TRY_CAST({text} AS {type_})"


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


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
    seal_unrecorded(con)


def seal_unrecorded(con: duckdb.DuckDBPyConnection) -> None:
    """Migration: record every row the chain should record and does not yet, e.g. the rows of a table
    chained after the database was sealed (contraventions and evidence cases)."""
    for table, key_column in RECORDED.items():
        keys = [key for (key,) in con.execute(
            f"SELECT CAST({key_column} AS VARCHAR) FROM {table} WHERE CAST({key_column} AS VARCHAR) NOT IN"
            f" (SELECT record_key FROM audit_log WHERE record_table = ?) ORDER BY {key_column}", [table]).fetchall()]
        _seal(con, table, keys)


def _seal(con: duckdb.DuckDBPyConnection, table: str, keys: Sequence[str]) -> None:
    if keys:
        append_all(con, datetime.now(timezone.utc), "migration",
                   [Entry("history.sealed", table, key, {}, (table, key)) for key in keys])


def record_whitelist_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Migration: since the whitelist columns are compared too (rechecks and corrections set them
    through chained events from now on), record again each case that differs from its history in
    those columns only, as they stand; any other difference stays a break."""
    whitelist = {c for c, (actions, _) in CASE_EVENTS.items() if RECHECKED in actions}
    _seal(con, CASES, [case_id for case_id, _, gone, unrecorded, differ in _unbacked_cases(con)
                       if not (gone or unrecorded) and {d["column"] for d in differ} <= whitelist])


# The "history" component's migrations, applied after every other component's (see pipeline.store).
# The second seal_unrecorded records the whitelist versions of a database sealed before they were chained.
MIGRATIONS: list[str | Callable[[duckdb.DuckDBPyConnection], None]] = [
    seal_existing, seal_unrecorded, seal_unrecorded, record_whitelist_columns]
