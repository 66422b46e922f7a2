"""Permitted vehicles missing from the whitelist, through the whitelist package's own service."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from pipeline.store import Store, audit
from review_app.services.decisions import Outcome
from review_app.services.users import User
from whitelist.entries import CATEGORIES
from whitelist.gaps import Gap, export_csv, flag_gap, open_gaps

__all__ = ["CATEGORIES", "GapsExport", "flag", "gaps_export", "record_export"]


@dataclass(frozen=True)
class GapsExport:
    gaps: tuple[Gap, ...]
    csv: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.csv.encode()).hexdigest()


def flag(store: Store, case_id: str | None, user: User, plate: str, category: str, note: str | None) -> Outcome:
    """Refused for a whitelisted plate; a plate with an open gap is added to that gap (whitelist.gaps)."""
    try:
        with store.transaction() as con:
            already = {g.id for g in open_gaps(con)}
            gap = flag_gap(con, plate, category, (note or "").strip() or None, case_id, actor=user.name)
    except ValueError as e:
        return Outcome(False, str(e))
    if gap.id in already:
        return Outcome(True, f"{gap.plate} already has an open gap (gap {gap.id}): this sighting was added to it")
    return Outcome(True, f"{gap.plate} ({gap.category}) flagged as missing from the whitelist (gap {gap.id})")


def gaps_export(store: Store) -> GapsExport:
    with store.connect() as con:
        gaps = tuple(open_gaps(con))
    out = io.StringIO()
    export_csv(list(gaps), out)
    return GapsExport(gaps, out.getvalue())


def record_export(store: Store, user: User, export: GapsExport) -> None:
    """Audit a download of the open-gaps CSV: who, when, how many rows, the file's sha256."""
    with store.transaction() as con:
        audit(con, user.name, "review.gaps_exported", "whitelist_gaps", None,
              rows=len(export.gaps), sha256=export.sha256)
