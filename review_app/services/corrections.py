"""Correct a misread plate: check it against the UK formats, re-check it against the whitelist.

The correction is stored as a row (old, new, format, whitelist result) and the case's plate and
whitelist columns are updated, only while the case is pending. A corrected plate that turns out to
be whitelisted is reported, not auto-rejected: the officer decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.plates.uk_formats import UNKNOWN, classify
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


def correct_plate(store: Store, case_id: str, user: User, typed: str) -> Correction:
    plate, fmt = classify(typed)
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
