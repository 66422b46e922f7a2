"""Whitelist versions: each import adds one, and the latest is the current whitelist.

Versions are never changed or deleted, so every decision can be traced to the exact list it used;
the history records each version with the sha256 of its entries, so an entry added later shows.
`replace=True` makes the file the whole new list; otherwise the file's rows are added to the
current entries, and a row overlapping a current entry for the same plate stops the import.

>>> with store.transaction() as con:  # doctest: +SKIP
...     result = import_whitelist(con, read_whitelist("fleet.csv"), actor="jo", replace=True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import duckdb

from pipeline.history import store_digest
from pipeline.store import audit, now
from whitelist.csv_format import Problem, WhitelistFile, WhitelistImportError
from whitelist.entries import WhitelistEntry
from whitelist.gaps import close_gaps

_ENTRY_FIELDS = [f.name for f in dataclasses.fields(WhitelistEntry)]


@dataclass(frozen=True)
class ImportResult:
    version: int
    file_name: str
    sha256: str
    row_count: int              # entries in the file
    entry_count: int            # entries in the new version
    mode: str                   # replace: the file is the whole list | merge: added to based_on
    based_on: int | None
    closed_gaps: tuple[int, ...]


def current_version(con: duckdb.DuckDBPyConnection) -> int | None:
    return con.execute("SELECT max(id) FROM whitelist_versions").fetchone()[0]


def load_entries(con: duckdb.DuckDBPyConnection, version: int) -> list[WhitelistEntry]:
    rows = con.execute(
        f"SELECT {', '.join(_ENTRY_FIELDS)} FROM whitelist_entries WHERE version_id = ? ORDER BY plate, valid_from",
        [version],
    ).fetchall()
    return [WhitelistEntry(*row) for row in rows]


def import_whitelist(
    con: duckdb.DuckDBPyConnection, wl: WhitelistFile, actor: str, replace: bool = False
) -> ImportResult:
    """Store `wl` as the new current version (call inside a transaction); closes gaps it fills."""
    previous = current_version(con)
    carried = [] if replace or previous is None else load_entries(con, previous)
    problems = _conflicts(wl, carried, previous)
    if problems:
        raise WhitelistImportError(wl.name, problems)
    mode, based_on = ("merge", previous) if carried else ("replace", None)

    version = con.execute(
        "INSERT INTO whitelist_versions (imported_by, imported_at, file_name, sha256, row_count, entry_count, mode, based_on)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [actor, now(), wl.name, wl.sha256, len(wl.entries), len(wl.entries) + len(carried), mode, based_on],
    ).fetchone()[0]
    entries = [dataclasses.replace(e, from_version=version) for e in wl.entries] + carried
    # One list parameter per column, zipped by unnest: executemany takes ~1 ms a row.
    columns = [[getattr(e, f) for e in entries] for f in _ENTRY_FIELDS]
    con.execute(
        f"INSERT INTO whitelist_entries (version_id, {', '.join(_ENTRY_FIELDS)})"
        f" SELECT {version}, {', '.join(f'unnest(${i + 1})' for i in range(len(columns)))}",
        columns,
    )
    store_digest(con, "whitelist_versions", version)
    audit(con, actor, "whitelist.imported", "whitelist_version", str(version), ("whitelist_versions", version),
          file_name=wl.name, sha256=wl.sha256, row_count=len(wl.entries), entry_count=len(entries),
          mode=mode, based_on=based_on)
    closed = close_gaps(con, version, entries, actor)
    return ImportResult(version, wl.name, wl.sha256, len(wl.entries), len(entries), mode, based_on, closed)


def _conflicts(wl: WhitelistFile, carried: list[WhitelistEntry], previous: int | None) -> list[Problem]:
    by_plate: dict[str, list[WhitelistEntry]] = {}
    for entry in carried:
        by_plate.setdefault(entry.plate, []).append(entry)
    problems = []
    for entry in wl.entries:
        clash = next((c for c in by_plate.get(entry.plate, []) if entry.overlaps(c)), None)
        if clash:
            problems.append(Problem(
                entry.line,
                f"{entry.plate} ({entry.period()}) overlaps {clash.label()} ({clash.period()}) in the "
                f"current whitelist, version {previous}; import with --replace to publish a complete list",
            ))
    return problems
