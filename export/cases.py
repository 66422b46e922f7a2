"""The validated cases an export hands on, as decided: the plate after any correction, its country, who validated it.

A case is exported once per kind (`pcn`, `keeper_enquiry`): those already in an export of that kind
are left out unless named `again`. `since` is the first contravention day to include (UK calendar).

The plate's country is the plate reader's, never guessed: ``United Kingdom``, another country (a
foreign plate, for the foreign-vehicle route), or ``unknown`` when the reader gave none, or when an
officer keyed in a plate that fits no UK format over a reading that was not foreign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from pipeline.history import verify_chain
from pipeline.plates.types import UK, is_foreign
from pipeline.plates.uk_formats import UNKNOWN as NO_UK_FORMAT

UNKNOWN_COUNTRY = "unknown"
UK_TZ = "Europe/London"


class ExportError(ValueError):
    """The export cannot be made as asked; the message names the case or the option."""


@dataclass(frozen=True)
class DecidedCase:
    id: str
    camera_id: str
    location: str | None
    first_seen: datetime
    vehicle_class: str
    plate: str
    plate_country: str            # United Kingdom, another country, or unknown
    validated_by: str
    validated_at: datetime
    decision_id: int              # the validate decision exported: a reopen and revalidation is a new one

    @property
    def foreign(self) -> bool:
        return is_foreign(self.plate_country) and self.plate_country != UNKNOWN_COUNTRY


def decided_country(read: str | None, corrected_format: str | None) -> str:
    """The country the back office is told: the reader's, or unknown; a keyed plate with no UK format is
    not called British.

    >>> decided_country("Netherlands", None), decided_country(None, None), decided_country(UK, NO_UK_FORMAT)
    ('Netherlands', 'unknown', 'unknown')
    """
    if is_foreign(read):
        return read
    if read == UK and corrected_format != NO_UK_FORMAT:
        return UK
    return UNKNOWN_COUNTRY


_SQL = f"""
    WITH last_decision AS (
        SELECT contravention_id, max(id) AS id FROM decisions GROUP BY contravention_id
    ), last_correction AS (
        SELECT contravention_id, arg_max(format, id) AS format FROM plate_corrections GROUP BY contravention_id
    ), exported AS (
        SELECT DISTINCT unnest(cases) AS contravention_id FROM exports WHERE kind = ?
    )
    SELECT c.id, c.camera_id, c.location, c.first_seen, c.vehicle_class, c.plate, c.plate_country,
           k.format AS corrected_format, d.officer, d."at", d.id AS decision_id, d.action,
           c.id IN (SELECT contravention_id FROM exported) AS done
    FROM contraventions c
    LEFT JOIN last_decision l ON l.contravention_id = c.id
    LEFT JOIN decisions d ON d.id = l.id
    LEFT JOIN last_correction k ON k.contravention_id = c.id
    WHERE c.status = 'validated'
      AND (c.id IN ? OR (NOT done AND (CAST(? AS DATE) IS NULL
           OR CAST(timezone('{UK_TZ}', c.first_seen) AS DATE) >= CAST(? AS DATE))))
    ORDER BY c.first_seen, c.id
"""


def require_intact_history(con: duckdb.DuckDBPyConnection) -> None:
    """An export hands cases on as the history decided them: a broken chain (e.g. a plate or status set
    by SQL) stops it, naming the first broken row."""
    check = verify_chain(con)
    if not check.ok:
        raise ExportError(f"nothing exported: {check.refusal()} (`buslane audit verify` lists every break)")


def cases_to_export(con: duckdb.DuckDBPyConnection, kind: str, since: date | None = None,
                    again: tuple[str, ...] = ()) -> list[DecidedCase]:
    """Validated cases not yet in an export of `kind` (contravention day >= `since`), and the `again` ones."""
    _check_again(con, again)
    rows = con.execute(_SQL, [kind, list(again) or [""], since, since]).fetchall()
    out = []
    for (case_id, camera, location, first_seen, vclass, plate, read_country, corrected_format, officer, at,
         decision_id, action, _) in rows:
        if action != "validate":  # pipeline.history refuses such a status; never hand it on
            raise ExportError(f"case {case_id}: status validated but its last decision is {action!r}")
        out.append(DecidedCase(case_id, camera, location, first_seen, vclass, plate,
                               decided_country(read_country, corrected_format), officer, at, decision_id))
    return out


def _check_again(con: duckdb.DuckDBPyConnection, again: tuple[str, ...]) -> None:
    for case_id in again:
        row = con.execute("SELECT status FROM contraventions WHERE id = ?", [case_id]).fetchone()
        if row is None:
            raise ExportError(f"--again {case_id}: no such case")
        if row[0] != "validated":
            raise ExportError(f"--again {case_id}: the case is {row[0]}; only validated cases are exported")
