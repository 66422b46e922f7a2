"""The DVLA keeper enquiry: registration and date of each validated case, once per case.

UK plates and plates of unknown country go in the enquiry file, the country column saying which
(an unknown one is listed as unknown, never guessed British); plates read or corrected as another
country's go to the foreign-vehicle file instead, since the DVLA cannot trace them. Each file is
an export of its own kind (`keeper_enquiry`, `foreign_vehicles`), recorded and chained; a case goes
into one of them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from export.cases import UK_TZ, ExportError, cases_to_export, require_intact_history
from export.pcn import render, uk_iso
from export.record import Recorded, record_export
from pipeline.store import Store

KIND, FOREIGN_KIND = "keeper_enquiry", "foreign_vehicles"
COLUMNS = ("case_id", "plate", "plate_country", "contravention_date", "contravention_at", "camera_id", "location")


@dataclass(frozen=True)
class KeeperExports:
    enquiry: Recorded
    foreign: Recorded | None


def export_keeper_enquiry(store: Store, actor: str, out: Path, foreign_out: Path | None,
                          since: date | None = None) -> KeeperExports:
    with store.connect() as con:
        require_intact_history(con)
        enquiry = [c for c in cases_to_export(con, KIND, since) if not c.foreign]
        foreign = [c for c in cases_to_export(con, FOREIGN_KIND, since) if c.foreign]
    if foreign and foreign_out is None:
        raise ExportError(f"{len(foreign)} validated case(s) have a foreign plate ({foreign[0].id}: "
                          f"{foreign[0].plate_country}): give --foreign FILE for the foreign-vehicle route")

    def rows(cases):
        return [{"case_id": c.id, "plate": c.plate, "plate_country": c.plate_country,
                 "contravention_date": c.first_seen.astimezone(ZoneInfo(UK_TZ)).date().isoformat(),
                 "contravention_at": uk_iso(c.first_seen), "camera_id": c.camera_id, "location": c.location}
                for c in cases]

    done = record_export(store, KIND, actor, out.name, "csv", render(rows(enquiry), "csv", COLUMNS), enquiry, out=out)
    sent = (record_export(store, FOREIGN_KIND, actor, foreign_out.name, "csv", render(rows(foreign), "csv", COLUMNS),
                          foreign, out=foreign_out) if foreign_out is not None else None)
    return KeeperExports(done, sent)
