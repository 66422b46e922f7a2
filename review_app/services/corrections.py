"""Correct a misread plate: check it against the UK formats, re-check it against the whitelist.

The correction is stored as a row (old, new, format, whitelist result) and the case's plate and
whitelist columns are updated, only while the case is pending. A corrected plate that turns out to
be whitelisted is reported, not auto-rejected: the officer decides.

When the reader's vote was not decisive, `choices` offers its other readings so that the officer
picks one (`pick_alternative`) instead of typing it; a pick is recorded as a correction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

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


def correct_plate(store: Store, case_id: str, user: User, typed: str, as_read: bool = False) -> Correction:
    """`typed` goes through the UK format rules (0Y09 FEU -> OY09FEU); `as_read` (a reading the
    plate reader already put through them, with its confidences) is kept exactly."""
    plate, fmt = (clean(typed), fits(clean(typed)) or UNKNOWN) if as_read else classify(typed)
    if not 2 <= len(plate) <= 10:
        return Correction(False, f"{typed!r} is not a plate: 2-10 letters and digits")
    with store.transaction() as con:
        case = con.execute(
            "SELECT plate, status, first_seen, timezone FROM contraventions WHERE id = ?", [case_id]
        ).fetchone()
        if case is None:
            return Correction(False, f"no case {case_id}")
        old, status, first_seen, tz = case
        if status != "pending":
            return Correction(False, f"{case_id} is {status}: only a pending case's plate can be corrected")
        wl = whitelist_check(con, plate, first_seen, tz)
        result = ("whitelisted: " + wl.entry_text if wl.exempt else wl.near_miss_text
                  or ("not whitelisted" if wl.version is not None else "no whitelist imported"))
        con.execute(
            "UPDATE contraventions SET plate = ?, plate_format = ?, whitelist_version = ?, whitelist_entry = ?,"
            " whitelist_near_miss = ? WHERE id = ?",
            [plate, fmt, wl.version, wl.entry_text, wl.near_miss_text, case_id],
        )
        correction_id = con.execute(
            'INSERT INTO plate_corrections (contravention_id, officer, "at", old, new, format, whitelist_version,'
            " whitelist_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [case_id, user.name, now(), old, plate, fmt, wl.version, result],
        ).fetchone()[0]
        audit(con, user.name, "review.plate_corrected", "contravention", case_id, ("plate_corrections", correction_id),
              old=old, new=plate, format=fmt, whitelist_version=wl.version, whitelist_result=result)
    shape = "no UK format: kept as typed" if fmt == UNKNOWN else f"UK {fmt} format"
    return Correction(True, f"plate {old or '(none)'} -> {plate} ({shape}); whitelist: {result}", plate, fmt, wl.exempt)


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
