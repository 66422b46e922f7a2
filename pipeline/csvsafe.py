"""CSV cells that a spreadsheet will not run as formulas (OWASP "CSV Injection").

Every CSV export goes through `writer` or `safe_cell`. Text starting with `=`, `+`, `-`, `@`, a tab
or a carriage return is prefixed with a single quote, so Excel, LibreOffice and Google Sheets show
it as text instead of evaluating it (`=HYPERLINK(...)` in an officer's note would otherwise be a
live link in whoever opens the file).

Numbers are left as they are: a value that is an int, float or Decimal is written by the program,
not typed by a person, and cannot be a formula; quoting it would turn -0.5 into text that no longer
sorts or sums. Text that merely looks like a negative number ("-5" in a note) is still text from a
person, and is neutralised like any other text.

>>> safe_cell('=HYPERLINK("http://x")'), safe_cell(-0.5), safe_cell("-5"), safe_cell("AB12 CDE")
('\\'=HYPERLINK("http://x")', -0.5, "'-5", 'AB12 CDE')
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value to write in a CSV cell: numbers unchanged, formula-like text prefixed with '."""
    if value is None or (isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)):
        return value
    text = str(value)  # what csv would write for it
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """csv.writer whose rows are passed through safe_cell."""

    def __init__(self, out: TextIO, **kwargs: Any):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def write_dicts(out: TextIO, rows: Iterable[dict], columns: Iterable[str], **kwargs: Any) -> None:
    """Header, then each row's `columns` in order, every cell through safe_cell."""
    columns = list(columns)
    writer = SafeWriter(out, **kwargs)
    writer.writerow(columns)
    writer.writerows([row[c] for c in columns] for row in rows)
