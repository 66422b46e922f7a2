"""Files the officers download from the app, each one audited before it leaves the server.

The tables' own CSV buttons are switched off (`client.disableDataExport`), so these are the only way
out: who, when, how many rows and the file's sha256 go to the audit log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from dataclasses import dataclass
from enum import Enum

from pipeline.csvsafe import write_dicts
from pipeline.store import Store, audit
from review_app.services.gaps import gaps_export, record_export
from review_app.services.queue import QueueFilter, QueueRow, queue_page
from review_app.services.users import User

QUEUE_EXPORT_MAX = 100_000  # rows; the queue holds at most a few weeks of cases


@dataclass(frozen=True)
class CsvExport:
    rows: int
    csv: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.csv.encode()).hexdigest()


def queue_csv(store: Store, user: User, flt: QueueFilter) -> CsvExport:
    """Every case matching the queue's filters (not only the page on screen), audited."""
    rows = queue_page(store, flt, page_size=QUEUE_EXPORT_MAX).rows
    columns = [f.name for f in dataclasses.fields(QueueRow)]
    out = io.StringIO()
    write_dicts(out, ({c: _plain(getattr(r, c)) for c in columns} for r in rows), columns)
    export = CsvExport(len(rows), out.getvalue())
    with store.transaction() as con:
        audit(con, user.name, "review.queue_exported", "contraventions", None, rows=export.rows,
              sha256=export.sha256, filters=repr(flt))
    return export


def gaps_csv(store: Store, user: User) -> CsvExport:
    """The open whitelist gaps, audited (services.gaps.record_export)."""
    export = gaps_export(store)
    record_export(store, user, export)
    return CsvExport(len(export.gaps), export.csv)


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value
