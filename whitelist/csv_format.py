"""Reading and validating a whitelist CSV file (format: whitelist/README.md).

The whole file is checked before anything is imported, and every problem is reported with its line,
so the person keeping the list can fix it in one pass.

>>> wl = parse_whitelist(b"plate,category,operator,valid_from,valid_to,source,notes\\r\\n"
...                      b"bx12 bus,bus,Northway Buses,2024-01-01,,fleet list,\\r\\n", "fleet.csv")
>>> wl.entries[0].label(), wl.entries[0].line
('BX12BUS (bus, Northway Buses)', 2)
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from whitelist.entries import WhitelistEntry, normalise_category
from whitelist.plates import normalise_plate

COLUMNS = ("plate", "category", "operator", "valid_from", "valid_to", "source", "notes")
REQUIRED_VALUES = ("plate", "category", "valid_from")

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# Excel re-saves dates it recognises in the machine's short format: UK councils get day first.
_UK_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@dataclass(frozen=True)
class Problem:
    line: int | None  # None: the file as a whole
    message: str


@dataclass(frozen=True)
class WhitelistFile:
    name: str
    sha256: str
    entries: tuple[WhitelistEntry, ...]


class WhitelistImportError(Exception):
    """The file cannot be imported; `problems` lists every reason, each with its line."""

    def __init__(self, file_name: str, problems: list[Problem]):
        self.file_name = file_name
        self.problems = tuple(sorted(problems, key=lambda p: (p.line or 0)))
        count = len(self.problems)
        super().__init__(f"{file_name}: {count} problem{'s' if count != 1 else ''}; nothing imported")

    def messages(self) -> list[str]:
        """One line per problem: 'fleet.csv, line 4: unknown category ...'."""
        return [
            f"{self.file_name}{f', line {p.line}' if p.line else ''}: {p.message}" for p in self.problems
        ]


def read_whitelist(path: str | Path) -> WhitelistFile:
    path = Path(path)
    return parse_whitelist(path.read_bytes(), path.name)


def parse_whitelist(data: bytes, name: str) -> WhitelistFile:
    """Validate the file's bytes; WhitelistImportError lists every problem found."""
    text = _decode(data, name)
    records = list(_records(text, name))
    if not records:
        raise WhitelistImportError(name, [Problem(None, "the file is empty")])
    header_line, header = records[0]
    columns = [h.strip().lower() for h in header]
    problems = _header_problems(columns, header_line)
    if problems:
        raise WhitelistImportError(name, problems)
    entries: list[WhitelistEntry] = []
    for line, fields in records[1:]:
        entry = _entry(columns, fields, line, problems)
        if entry is not None:
            entries.append(entry)
    problems += _overlaps(entries)
    if not entries and not problems:
        problems.append(Problem(header_line, "a header but no entries under it"))
    if problems:
        raise WhitelistImportError(name, problems)
    return WhitelistFile(name, hashlib.sha256(data).hexdigest(), tuple(entries))


def parse_date(value: str) -> date:
    """ISO 2024-03-31, or Excel's UK re-save 31/03/2024; ValueError otherwise."""
    if m := _ISO_DATE.fullmatch(value):
        y, mo, d = m.groups()
    elif m := _UK_DATE.fullmatch(value):
        d, mo, y = m.groups()
    else:
        raise ValueError(value)
    return date(int(y), int(mo), int(d))


def _decode(data: bytes, name: str) -> str:
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise WhitelistImportError(name, [Problem(None, "the file is empty")])
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise WhitelistImportError(name, [Problem(line, "binary data (NUL byte): not a CSV text file")])
    try:
        return data.decode("utf-8-sig")  # utf-8-sig: Excel's 'CSV UTF-8' starts with a BOM
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{data[e.start]:02x}); save it as 'CSV UTF-8'"
        raise WhitelistImportError(name, [Problem(line, message)]) from None


def _records(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (Excel pads files with rows of commas)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for fields in reader:
            if any(f.strip() for f in fields):
                yield start, fields
            start = reader.line_num + 1
    except csv.Error as e:
        raise WhitelistImportError(name, [Problem(reader.line_num, f"not valid CSV: {e}")]) from None


def _header_problems(columns: list[str], line: int) -> list[Problem]:
    problems = [Problem(line, f"missing column '{c}'") for c in COLUMNS if c not in columns]
    for c in dict.fromkeys(columns):
        if c and c not in COLUMNS:
            problems.append(Problem(line, f"unknown column '{c}' (expected {', '.join(COLUMNS)})"))
        elif c and columns.count(c) > 1:
            problems.append(Problem(line, f"column '{c}' appears {columns.count(c)} times"))
    return problems


def _entry(columns: list[str], fields: list[str], line: int, problems: list[Problem]) -> WhitelistEntry | None:
    """The row as an entry, or None after appending each of its problems."""
    found = len(problems)

    def bad(message: str) -> None:
        problems.append(Problem(line, message))

    if len(fields) < len(columns):
        absent = [c for c in columns[len(fields) :] if c]
        bad(f"missing column{'s' if len(absent) > 1 else ''} {', '.join(absent)} "
            f"(the row has {len(fields)} fields, the header {len(columns)})")
        return None
    # Named columns only; a value under an unnamed or extra column means the row is misaligned.
    names = columns + [""] * (len(fields) - len(columns))
    if any(v.strip() for c, v in zip(names, fields) if not c):
        bad(f"a value outside the named columns (the row has {len(fields)} fields, the header {len(columns)})")
        return None
    row = {c: v.strip() for c, v in zip(columns, fields) if c}
    for c in REQUIRED_VALUES:
        if not row[c]:
            bad(f"missing {c}")

    plate = category = None
    if row["plate"]:
        try:
            plate = normalise_plate(row["plate"])
        except ValueError as e:
            bad(str(e))
    if row["category"]:
        try:
            category = normalise_category(row["category"])
        except ValueError as e:
            bad(str(e))
    dates: dict[str, date] = {}
    for c in ("valid_from", "valid_to"):
        if row[c]:
            try:
                dates[c] = parse_date(row[c])
            except ValueError:
                bad(f"{c} '{row[c]}' is not a date (use YYYY-MM-DD)")
    valid_from, valid_to = dates.get("valid_from"), dates.get("valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        bad(f"valid_to {valid_to} is before valid_from {valid_from}")

    if len(problems) > found:
        return None
    return WhitelistEntry(
        plate=plate,
        category=category,
        operator=row["operator"] or None,
        valid_from=valid_from,
        valid_to=valid_to,
        source=row["source"] or None,
        notes=row["notes"] or None,
        line=line,
    )


def _overlaps(entries: list[WhitelistEntry]) -> list[Problem]:
    """One plate may have one entry on any day; the later line of each clash is reported."""
    problems = []
    earlier_by_plate: dict[str, list[WhitelistEntry]] = {}
    for entry in entries:
        earlier = earlier_by_plate.setdefault(entry.plate, [])
        clash = next((e for e in earlier if entry.overlaps(e)), None)
        if clash:
            problems.append(Problem(
                entry.line,
                f"{entry.plate} ({entry.period()}) overlaps line {clash.line} ({clash.period()}); "
                "a plate may have only one entry on any day",
            ))
        earlier.append(entry)
    return problems
