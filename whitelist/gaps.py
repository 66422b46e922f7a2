"""Permitted vehicles missing from the whitelist, as flagged by officers.

Officers (review app or `buslane whitelist flag`) record a gap; the open gaps are exported for the
list's keeper; an import whose version covers the plate from the day it was flagged on closes it.

>>> with store.transaction() as con:  # doctest: +SKIP
...     gap = flag_gap(con, "BX12BUS", "bus", "route 42 relief bus", "c-123", actor="officer:jo")
...     export_csv(open_gaps(con), sys.stdout)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import TextIO

import duckdb

from pipeline.csvsafe import SafeWriter
from pipeline.store import audit, now
from whitelist.entries import LONDON, WhitelistEntry, normalise_category
from whitelist.plates import normalise_plate


@dataclass(frozen=True)
class Gap:
    id: int
    plate: str
    category: str
    note: str | None
    contravention_id: str | None
    flagged_by: str
    flagged_at: datetime
    status: str                     # open | closed
    closed_by_version: int | None
    closed_at: datetime | None

    def fill(self, entries: list[WhitelistEntry]) -> WhitelistEntry | None:
        """The entry covering this plate from the day it was flagged, if any.

        An entry that had already expired (say the old permit the officer saw lapse) fills nothing.
        """
        flagged_day = self.flagged_at.astimezone(LONDON).date()
        return next(
            (e for e in entries if e.plate == self.plate and (e.valid_to is None or e.valid_to >= flagged_day)),
            None,
        )


_COLUMNS = [f.name for f in fields(Gap)]
EXPORT_COLUMNS = ("id", "plate", "category", "note", "contravention_id", "flagged_by", "flagged_at")


def flag_gap(
    con: duckdb.DuckDBPyConnection,
    plate: str,
    category: str,
    note: str | None,
    contravention_id: str | None,
    actor: str,
) -> Gap:
    """Record a permitted vehicle missing from the list; ValueError names a bad argument.

    A plate the current list already covers today is refused (it is no gap); a plate that already has
    an open gap adds this sighting to that gap (its note) instead of opening a second one.
    """
    from whitelist.matching import check  # not at the top: matching -> versions -> this module

    plate, category = normalise_plate(plate), normalise_category(category)
    if contravention_id is not None and not con.execute(
        "SELECT 1 FROM contraventions WHERE id = ?", [contravention_id]
    ).fetchone():
        raise ValueError(f"no contravention with id {contravention_id!r}")
    listed = check(con, plate, now())  # today, in London
    if listed.exempt:
        raise ValueError(f"{plate} is on the whitelist ({listed.entry_text}): not a gap")
    existing = next((g for g in open_gaps(con) if g.plate == plate), None)
    if existing is not None:
        also = f"also {contravention_id or 'seen'} ({actor})" + (f": {note}" if note else "")
        row = con.execute(
            f"UPDATE whitelist_gaps SET note = ? WHERE id = ? RETURNING {', '.join(_COLUMNS)}",
            [f"{existing.note}; {also}" if existing.note else also, existing.id],
        ).fetchone()
        gap = Gap(*row)
        audit(con, actor, "whitelist.gap_added_to", "whitelist_gap", str(gap.id), ("whitelist_gaps", gap.id),
              plate=plate, category=category, note=note, contravention_id=contravention_id)
        return gap
    row = con.execute(
        f"INSERT INTO whitelist_gaps (plate, category, note, contravention_id, flagged_by, flagged_at)"
        f" VALUES (?, ?, ?, ?, ?, ?) RETURNING {', '.join(_COLUMNS)}",
        [plate, category, note or None, contravention_id, actor, now()],
    ).fetchone()
    gap = Gap(*row)
    audit(con, actor, "whitelist.gap_flagged", "whitelist_gap", str(gap.id), ("whitelist_gaps", gap.id),
          plate=plate, category=category, note=note, contravention_id=contravention_id)
    return gap


def open_gaps(con: duckdb.DuckDBPyConnection) -> list[Gap]:
    rows = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM whitelist_gaps WHERE status = 'open' ORDER BY flagged_at, id"
    ).fetchall()
    return [Gap(*row) for row in rows]


def export_csv(gaps: list[Gap], out: TextIO) -> None:
    """Write the gaps as CSV (header first) for circulation to whoever keeps the list.

    Notes and names are typed by people: formula-like cells are neutralised (pipeline.csvsafe).
    """
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for gap in gaps:
        writer.writerow([
            gap.flagged_at.astimezone(LONDON).isoformat(timespec="seconds") if c == "flagged_at"
            else "" if getattr(gap, c) is None else getattr(gap, c)
            for c in EXPORT_COLUMNS
        ])


def close_gaps(
    con: duckdb.DuckDBPyConnection, version: int, entries: list[WhitelistEntry], actor: str
) -> tuple[int, ...]:
    """Close each open gap that version `version` (with `entries`) fills; returns their ids."""
    by_plate: dict[str, list[WhitelistEntry]] = {}
    for e in entries:
        by_plate.setdefault(e.plate, []).append(e)
    closed = []
    for gap in open_gaps(con):
        entry = gap.fill(by_plate.get(gap.plate, []))
        if entry is None:
            continue
        con.execute(
            "UPDATE whitelist_gaps SET status = 'closed', closed_by_version = ?, closed_at = ? WHERE id = ?",
            [version, now(), gap.id],
        )
        audit(con, actor, "whitelist.gap_closed", "whitelist_gap", str(gap.id), ("whitelist_gaps", gap.id),
              plate=gap.plate, version=version, entry=entry.label())
        closed.append(gap.id)
    return tuple(closed)
