"""The penalty processing hand-off: one row per validated case not yet exported, with its evidence pack.

    case_id, contravention_code, contravention, plate, plate_country, contravention_at, camera_id, location,
    vehicle_class, validated_by, validated_at, pack_file, pack_sha256, serve_by

`contravention_code` is 34 (Being in a bus lane) with the council's suffix ($BUSLANE_PCN_CODE_SUFFIX,
default J: camera enforced). Times are UK local time with the offset (2016-03-18T12:21:26+00:00).
`serve_by` is the last day to serve the notice, by the rule the evidence pack states too
(`pipeline.deadlines.serve_by`: 28 days beginning with the UK day of the contravention).
"""

from __future__ import annotations

import io
import json
import os
import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from export.cases import UK_TZ, DecidedCase, ExportError, cases_to_export, require_intact_history
from export.packs import pack_for
from export.record import Recorded, record_export
from pipeline.csvsafe import write_dicts
from pipeline.deadlines import serve_by, uk_day
from pipeline.store import Store

KIND = "pcn"
CODE = "34"
DESCRIPTION = "Being in a bus lane"
SUFFIX_ENV = "BUSLANE_PCN_CODE_SUFFIX"
DEFAULT_SUFFIX = "J"  # the code list's suffix for a contravention seen by an approved camera
COLUMNS = ("case_id", "contravention_code", "contravention", "plate", "plate_country", "contravention_at",
           "camera_id", "location", "vehicle_class", "validated_by", "validated_at", "pack_file", "pack_sha256",
           "serve_by")
FORMATS = ("csv", "json")


def code_suffix(value: str | None = None) -> str:
    """The council's suffix: `value`, else $BUSLANE_PCN_CODE_SUFFIX, else J; up to two letters or digits."""
    suffix = (value if value is not None else os.environ.get(SUFFIX_ENV, DEFAULT_SUFFIX)).strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{0,2}", suffix):
        raise ExportError(f"contravention code suffix {suffix!r} ({SUFFIX_ENV}): up to two letters or digits, e.g. J")
    return suffix


def uk_iso(value) -> str:
    return value.astimezone(ZoneInfo(UK_TZ)).isoformat(timespec="seconds")


def row(case: DecidedCase, suffix: str, pack_file: str, pack_sha256: str) -> dict:
    return {"case_id": case.id, "contravention_code": CODE + suffix, "contravention": DESCRIPTION,
            "plate": case.plate, "plate_country": case.plate_country, "contravention_at": uk_iso(case.first_seen),
            "camera_id": case.camera_id, "location": case.location, "vehicle_class": case.vehicle_class,
            "validated_by": case.validated_by, "validated_at": uk_iso(case.validated_at), "pack_file": pack_file,
            "pack_sha256": pack_sha256, "serve_by": serve_by(uk_day(case.first_seen)).isoformat()}


def render(rows: list[dict], fmt: str, columns: tuple[str, ...] = COLUMNS) -> bytes:
    """CSV (every cell through pipeline.csvsafe) or a JSON list of objects."""
    if fmt == "json":
        return (json.dumps(rows, indent=2, ensure_ascii=False) + "\n").encode()
    if fmt != "csv":
        raise ExportError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    out = io.StringIO()
    write_dicts(out, rows, columns)
    return out.getvalue().encode()


def export_pcn(store: Store, actor: str, fmt: str, file_name: str, root: Path, packs: Path,
               since: date | None = None, again: tuple[str, ...] = (), out: Path | None = None,
               suffix: str | None = None) -> Recorded:
    """Export the cases (packs built into `packs` where missing), record it; with `out`, write the file there."""
    suffix = code_suffix(suffix)
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    with store.connect() as con:
        require_intact_history(con)
        cases = cases_to_export(con, KIND, since, again)
    rows = []
    for case in cases:
        pack = pack_for(store, case, root, packs, actor)
        rows.append(row(case, suffix, pack.file_name, pack.sha256))
    return record_export(store, KIND, actor, file_name, fmt, render(rows, fmt), cases, again, out)
