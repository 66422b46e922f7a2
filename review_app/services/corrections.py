"""Correct a misread plate: check it against the UK formats, re-check it against the whitelist.

The correction is stored as a row (old, new, format, whitelist result) and the case's plate and
whitelist columns are updated, only while the case is pending. A corrected plate that turns out to
be whitelisted is reported, not auto-rejected: the officer decides. `key_in` and `record` are the
two halves, so that validate can key in an unread plate and decide in one transaction.

When the reader's vote was not decisive, `choices` offers its other readings so that the officer
picks one (`pick_alternative`) instead of typing it; a pick is recorded as a correction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipeline.plates.uk_formats import UNKNOWN, classify, clean, fits
from pipeline.store import Store, audit, now
from review_app.services.users import User
from whitelist.matching import check as whitelist_check


@dataclass(frozen=True)
class Correction:
    ok: bool
    message: str
    plate: str | None = None
    format: str | None = None
    whitelisted: bool = False


@dataclass(frozen=True)
class Keyed:
    """A plate as keyed in, normalised and checked against the whitelist, before anything is written."""

    plate: str
    format: str
    whitelist_version: int | None
    entry: str | None               # the whitelist entry it matches exactly
    near_miss: str | None           # whitelisted plates it nearly matches

    @property
    def result(self) -> str:
        return ("whitelisted: " + self.entry if self.entry else self.near_miss
                or ("not whitelisted" if self.whitelist_version is not None else "no whitelist imported"))


def normalise(typed: str, as_read: bool = False) -> tuple[str, str]:
    """(plate, format): `typed` through the UK format rules (0Y09 FEU -> OY09FEU); `as_read` (a reading
    the plate reader already put through them) kept exactly, only cleaned."""
    return (clean(typed), fits(clean(typed)) or UNKNOWN) if as_read else classify(typed)


def unchanged(typed: str, old: str | None, plate: str) -> bool:
    """Whether keying `typed` (normalised to `plate`) over `old` changes nothing, case and spaces aside."""
    return bool(old) and old.upper() in (plate.upper(), clean(typed).upper())


def key_in(con: duckdb.DuckDBPyConnection, typed: str, first_seen: datetime, tz: str,
           as_read: bool = False) -> Keyed | str:
    """The keyed plate checked against the current whitelist, or why it is not a plate."""
    plate, fmt = normalise(typed, as_read)
    if not 2 <= len(plate) <= 10:
        return f"{typed!r} is not a plate: 2-10 letters and digits"
    wl = whitelist_check(con, plate, first_seen, tz)
    return Keyed(plate, fmt, wl.version, wl.entry_text, wl.near_miss_text)


def record(con: duckdb.DuckDBPyConnection, case_id: str, user: User, old: str | None, keyed: Keyed) -> None:
    """Write the correction (row, audit, the case's plate and whitelist columns); inside a transaction."""
    con.execute(
        "UPDATE contraventions SET plate = ?, plate_format = ?, whitelist_version = ?, whitelist_entry = ?,"
        " whitelist_near_miss = ? WHERE id = ?",
        [keyed.plate, keyed.format, keyed.whitelist_version, keyed.entry, keyed.near_miss, case_id],
    )
    correction_id = con.execute(
        'INSERT INTO plate_corrections (contravention_id, officer, "at", old, new, format, whitelist_version,'
        " whitelist_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [case_id, user.name, now(), old, keyed.plate, keyed.format, keyed.whitelist_version, keyed.result],
    ).fetchone()[0]
    audit(con, user.name, "review.plate_corrected", "contravention", case_id, ("plate_corrections", correction_id),
          old=old, new=keyed.plate, format=keyed.format, whitelist_version=keyed.whitelist_version,
          whitelist_entry=keyed.entry, whitelist_near_miss=keyed.near_miss, whitelist_result=keyed.result)


def correct_plate(store: Store, case_id: str, user: User, typed: str, as_read: bool = False) -> Correction:
    """`typed` goes through the UK format rules (0Y09 FEU -> OY09FEU); `as_read` (a reading the
    plate reader already put through them, with its confidences) is kept exactly. A correction that
    changes nothing is refused: it would only put "AB12CDE -> AB12CDE" on the record."""
    with store.transaction() as con:
        case = con.execute(
            "SELECT plate, status, first_seen, timezone FROM contraventions WHERE id = ?", [case_id]
        ).fetchone()
        if case is None:
            return Correction(False, f"no case {case_id}")
        old, status, first_seen, tz = case
        if status != "pending":
            return Correction(False, f"{case_id} is {status}: only a pending case's plate can be corrected")
        keyed = key_in(con, typed, first_seen, tz, as_read)
        if isinstance(keyed, str):
            return Correction(False, keyed)
        if unchanged(typed, old, keyed.plate):
            return Correction(False, f"the plate is already {old}: nothing to correct")
        record(con, case_id, user, old, keyed)
    shape = "no UK format: kept as typed" if keyed.format == UNKNOWN else f"UK {keyed.format} format"
    return Correction(True, f"plate {old or '(none)'} -> {keyed.plate} ({shape}); whitelist: {keyed.result}",
                      keyed.plate, keyed.format, keyed.entry is not None)


@dataclass(frozen=True)
class Choice:
    """One of the plate reader's readings of the vehicle, with its support."""

    text: str
    reads: int  # reads that gave it
    score: float  # their summed confidence


def choices(plate: str | None, status: str | None, alternatives: Sequence[object], most: int = 3) -> tuple[Choice, ...]:
    """The reader's readings to offer in place of the case's `plate`, best supported first; none
    when the vote was decisive: status ``read`` and no other reading with half the top one's support.

    >>> alts = [{"text": "MT456BJ", "reads": 3, "score": 2.1}, {"text": "MT4568J", "reads": 2, "score": 1.5}]
    >>> [c.text for c in choices("MT456BJ", "read", alts)]
    ['MT4568J']
    >>> choices("MT456BJ", "read", alts[:1])
    ()
    """
    readings = [Choice(str(a["text"]), int(a.get("reads") or 0), float(a.get("score") or 0.0))
                for a in alternatives if isinstance(a, dict) and a.get("text")]
    scores = sorted((c.score for c in readings), reverse=True)
    if status == "read" and (len(scores) < 2 or scores[1] < scores[0] / 2):
        return ()
    return tuple(c for c in readings if c.text != plate)[:most]


def pick_alternative(store: Store, case_id: str, user: User, text: str) -> Correction:
    """Take one of the reader's readings of the case's vehicle as its plate (a correction)."""
    with store.connect() as con:
        row = con.execute(
            "SELECT p.plate_alternatives FROM contraventions c JOIN lane_passages p ON p.id = c.passage_id"
            " WHERE c.id = ?", [case_id]
        ).fetchone()
    if row is None:
        return Correction(False, f"no case {case_id}")
    readings = {a.get("text") for a in json.loads(row[0] or "[]") if isinstance(a, dict)}
    if text not in readings:
        return Correction(False, f"{text!r} is not one of the plate reader's readings for {case_id}")
    return correct_plate(store, case_id, user, text, as_read=True)
