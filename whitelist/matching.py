"""Is a plate read on the whitelist at the time of the passage?

Exempt only on an exact match (after normalisation) with an entry valid that day. A plate one edit
or only confusable characters (O/0, I/1, S/5, B/8, Z/2, G/6) away is a near miss: not exempt, but
shown to the officer. Load the list once and check many plates with it:

>>> wl = load(con)  # doctest: +SKIP
>>> result = wl.check("BX12 BU5", passage_first_seen, tz=site.tz)  # doctest: +SKIP
>>> result.exempt, result.near_miss_text  # doctest: +SKIP
(False, 'possible whitelisted vehicle: BX12BUS (bus, Northway Buses)')
>>> result.columns()  # the whitelist_* values to store with the decision  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

import duckdb

from whitelist.entries import LONDON, WhitelistEntry
from whitelist.plates import clean_plate, confusion_key, deletion_keys, is_near_miss
from whitelist.versions import current_version, load_entries


@dataclass(frozen=True)
class WhitelistCheck:
    plate: str                                  # as compared (uppercase, no spaces or hyphens)
    day: date                                   # the local day the validity windows were read for
    version: int | None                         # the whitelist version used; None: none imported
    exempt_entry: WhitelistEntry | None
    near_misses: tuple[WhitelistEntry, ...]     # only when not exempt

    @property
    def exempt(self) -> bool:
        return self.exempt_entry is not None

    @property
    def entry_text(self) -> str | None:
        return self.exempt_entry.label() if self.exempt_entry else None

    @property
    def near_miss_text(self) -> str | None:
        if not self.near_misses:
            return None
        return "possible whitelisted vehicle: " + "; ".join(e.label() for e in self.near_misses)

    def columns(self) -> dict[str, int | str | None]:
        """The values for the whitelist_* columns of lane_passages and contraventions."""
        return {
            "whitelist_version": self.version,
            "whitelist_entry": self.entry_text,
            "whitelist_near_miss": self.near_miss_text,
        }

    def describe(self) -> str:
        if self.version is None:
            return f"{self.plate}: no whitelist has been imported"
        if self.exempt_entry:
            e = self.exempt_entry
            return f"{self.plate}: whitelisted on {self.day} as {e.label()}, valid {e.period()} (whitelist version {self.version})"
        found = f"; {self.near_miss_text}" if self.near_misses else ""
        return f"{self.plate}: not whitelisted on {self.day}{found} (whitelist version {self.version})"


class Whitelist:
    """One version's entries, indexed so a check touches only the plausible candidates."""

    def __init__(self, version: int | None, entries: list[WhitelistEntry]):
        self.version = version
        self.entries = tuple(entries)
        self._exact: dict[str, list[WhitelistEntry]] = {}
        self._by_deletion: dict[str, list[WhitelistEntry]] = {}
        self._by_confusion: dict[str, list[WhitelistEntry]] = {}
        for e in self.entries:
            self._exact.setdefault(e.plate, []).append(e)
            self._by_confusion.setdefault(confusion_key(e.plate), []).append(e)
            for key in deletion_keys(e.plate):
                self._by_deletion.setdefault(key, []).append(e)

    def check(self, plate: str, at: datetime | date, tz: str | tzinfo = LONDON) -> WhitelistCheck:
        """Match `plate` against the entries valid on the day of `at` in `tz` (a date is used as is)."""
        read, day = clean_plate(plate), local_day(at, tz)
        exempt = next((e for e in self._exact.get(read, []) if e.valid_on(day)), None)
        near: tuple[WhitelistEntry, ...] = ()
        if exempt is None:
            candidates = {e for key in deletion_keys(read) for e in self._by_deletion.get(key, [])}
            candidates.update(self._by_confusion.get(confusion_key(read), []))
            near = tuple(sorted(
                (e for e in candidates if e.valid_on(day) and is_near_miss(read, e.plate)),
                key=lambda e: e.plate,
            ))
        return WhitelistCheck(read, day, self.version, exempt, near)


def local_day(at: datetime | date, tz: str | tzinfo = LONDON) -> date:
    """The day `at` falls on in `tz`; a naive datetime is taken as local time there already."""
    if not isinstance(at, datetime):
        return at
    if at.tzinfo is None:
        return at.date()
    return at.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz).date()


def load(con: duckdb.DuckDBPyConnection, version: int | None = None) -> Whitelist:
    """The given version, by default the current (latest) one; empty when none was imported."""
    version = version if version is not None else current_version(con)
    return Whitelist(version, load_entries(con, version) if version is not None else [])


def check(con: duckdb.DuckDBPyConnection, plate: str, at: datetime | date, tz: str | tzinfo = LONDON) -> WhitelistCheck:
    """One-off check against the current version (load() once instead when checking many plates)."""
    return load(con).check(plate, at, tz)
