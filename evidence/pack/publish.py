"""Publish a file only together with the rows that record it: written under a hidden name beside
its place, renamed into place as the last step of the store transaction that records it.

A crash before the commit leaves no file at `out` (the partial is removed), and a commit that fails
after the rename takes the file away again, so nobody ever holds a file the store does not know.
Used by evidence packs (builder.py) and back-office exports (export/record.py).

>>> with staged(Path("out/pack.zip")) as partial:  # doctest: +SKIP
...     partial.write_bytes(data)
...     with published(store, partial, Path("out/pack.zip")) as con:
...         con.execute("INSERT INTO packs ...")
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline.store import Store


@contextmanager
def staged(out: Path | None) -> Iterator[Path | None]:
    """The hidden partial name to write `out` under (its folder made), removed when the block ends
    unless it was published; None for no file."""
    if out is None:
        yield None
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def published(store: Store, partial: Path | None, out: Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A store transaction whose last step renames `partial` to `out` (none when `partial` is None)."""
    renamed = False
    try:
        with store.transaction() as con:
            yield con
            if partial is not None:
                os.replace(partial, out)
                renamed = True
    except BaseException:
        if renamed:  # the commit failed after the rename
            out.unlink(missing_ok=True)
        raise
