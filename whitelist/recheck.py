"""Re-evaluate pending contraventions against the current whitelist.

A vehicle added to the list today clears yesterday's pending case: its status becomes
'whitelisted' with the exempting entry and version recorded, and an audit row says so. Cases still
pending get the current version's near misses, with an audit row for each case whose whitelist
columns change. Decided cases are never touched, nor are the lane_passages rows, which keep the
batch's original decision.

>>> recheck(Store("var/demo.duckdb"), actor="officer:jo").cleared  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.history import CLEARED, RECHECKED, Entry, append_all
from pipeline.store import Store, now
from whitelist.matching import load


@dataclass(frozen=True)
class ClearedCase:
    contravention_id: str
    plate: str
    entry: str          # e.g. 'BX12BUS (bus, Northway Buses)'


@dataclass(frozen=True)
class RecheckResult:
    version: int | None             # None: no whitelist imported, nothing checked
    checked: int
    cleared: tuple[ClearedCase, ...]
    near_misses: int                # still pending, with a possible whitelisted vehicle


def recheck(store: Store, actor: str) -> RecheckResult:
    with store.transaction() as con:
        wl = load(con)
        if wl.version is None:
            return RecheckResult(None, 0, (), 0)
        pending = con.execute(
            "SELECT id, plate, first_seen, timezone, whitelist_version, whitelist_entry, whitelist_near_miss"
            " FROM contraventions WHERE status = 'pending' AND plate IS NOT NULL ORDER BY first_seen, id"
        ).fetchall()
        cleared, near, changed, events = [], 0, [], []
        for case_id, plate, first_seen, tz, *stored in pending:
            result = wl.check(plate, first_seen, tz)
            columns = result.columns()
            if result.exempt or list(columns.values()) != stored:
                changed.append([case_id, "whitelisted" if result.exempt else "pending", *columns.values()])
                # Chained events (pipeline.history.CASE_EVENTS): the history backs every column it changed.
                events.append(Entry(CLEARED if result.exempt else RECHECKED, "contravention", case_id,
                                    {"plate": result.plate, "day": result.day, **columns}))
            if result.exempt:
                cleared.append(ClearedCase(case_id, result.plate, result.entry_text))
            else:
                near += bool(result.near_misses)
        if changed:  # one update and one insert: after an import every pending case may change
            con.execute(
                "UPDATE contraventions c SET status = u.status, whitelist_version = u.version,"
                " whitelist_entry = u.entry, whitelist_near_miss = u.near FROM (SELECT unnest(?) AS id,"
                " unnest(?) AS status, unnest(CAST(? AS INTEGER[])) AS version, unnest(CAST(? AS VARCHAR[])) AS entry,"
                " unnest(CAST(? AS VARCHAR[])) AS near) u WHERE c.id = u.id AND c.status = 'pending'",
                [list(column) for column in zip(*changed)],
            )
            append_all(con, now(), actor, events)
        return RecheckResult(wl.version, len(pending), tuple(cleared), near)
