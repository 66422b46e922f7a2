"""`buslane whitelist ...`: import the approved-vehicle list, check plates, recheck cases, gaps."""

from __future__ import annotations

import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from pipeline.store import Store, now
from pipeline.users import UnknownOSUser, cli_user
from whitelist.csv_format import WhitelistImportError, read_whitelist
from whitelist.entries import LONDON
from whitelist.gaps import export_csv, flag_gap, open_gaps
from whitelist.matching import check as check_plate
from whitelist.plates import normalise_plate
from whitelist.recheck import recheck as recheck_cases
from whitelist.versions import import_whitelist

app = typer.Typer(
    help="The approved-vehicle whitelist: import versions, check plates, recheck pending cases, gaps.",
    no_args_is_help=True,
)

Db = Annotated[Path, typer.Option("--db", help="The DuckDB database file.")]


class GapFormat(str, Enum):
    table = "table"
    csv = "csv"


def _fail(*lines: str) -> NoReturn:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(1)


def _officer() -> str:
    """Who is acting, for the audit log: the officer the OS user is mapped to in the users file."""
    try:
        return cli_user().name
    except UnknownOSUser as e:
        _fail(str(e))


def _existing(db: Path) -> Store:
    # Reading commands should not leave an empty database behind a mistyped path.
    if not db.exists():
        _fail(f"{db}: no such database")
    return Store(db)


def _parse_at(text: str) -> datetime | date:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO-8601 date or time (e.g. 2024-05-01T08:30Z)") from None


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="The whitelist CSV (format: whitelist/README.md).")],
    db: Db,
    replace: Annotated[bool, typer.Option("--replace", help="The file is the complete new list (otherwise its rows are added to the current list).")] = False,
) -> None:
    """Validate FILE and, only if every row is good, make it the new current whitelist version.

    Recorded under the officer your OS user is mapped to in the users file (`buslane users link`).
    """
    actor = _officer()
    try:
        wl = read_whitelist(file)
        with Store(db).transaction() as con:
            result = import_whitelist(con, wl, actor, replace)
    except OSError as e:
        _fail(f"{file}: {e.strerror or e}")
    except WhitelistImportError as e:
        _fail(*e.messages(), str(e))
    how = f"added to version {result.based_on}" if result.mode == "merge" else "replacing any earlier list"
    typer.echo(
        f"whitelist version {result.version}: {result.row_count} rows from {result.file_name} ({how}); "
        f"the list now has {result.entry_count} entries; sha256 {result.sha256}"
    )
    if result.closed_gaps:
        typer.echo(f"closed whitelist gaps: {', '.join(map(str, result.closed_gaps))}")


@app.command()
def check(
    plate: Annotated[str, typer.Argument(help="The plate, e.g. 'BX12 BUS'.")],
    db: Db,
    at: Annotated[str | None, typer.Option("--at", help="ISO-8601 date or time (default now); times without an offset are UK local.")] = None,
) -> None:
    """Print the exempting entry or near misses for PLATE, and the whitelist version used."""
    try:
        normalise_plate(plate)
    except ValueError as e:
        _fail(str(e))
    when = _parse_at(at) if at else now()
    with _existing(db).connect() as con:
        typer.echo(check_plate(con, plate, when, LONDON).describe())


@app.command()
def recheck(db: Db) -> None:
    """Clear pending contraventions whose plate the current whitelist now exempts (as your mapped officer)."""
    result = recheck_cases(_existing(db), _officer())
    if result.version is None:
        _fail("no whitelist has been imported")
    typer.echo(
        f"rechecked {result.checked} pending contraventions against whitelist version {result.version}: "
        f"{len(result.cleared)} cleared, {result.near_misses} with a possible whitelisted vehicle"
    )
    for case in result.cleared:
        typer.echo(f"  {case.contravention_id}: {case.entry}")


@app.command()
def flag(
    plate: Annotated[str, typer.Argument(help="The permitted vehicle's plate.")],
    db: Db,
    category: Annotated[str, typer.Option("--category", help="bus, taxi, private_hire, emergency, council, utility or other.")],
    note: Annotated[str | None, typer.Option("--note", help="Why it is permitted (operator, permit, who said so).")] = None,
    contravention: Annotated[str | None, typer.Option("--contravention", help="The contravention id that showed the gap.")] = None,
) -> None:
    """Record a permitted vehicle that is missing from the whitelist (as your mapped officer)."""
    actor = _officer()
    try:
        with _existing(db).transaction() as con:
            gap = flag_gap(con, plate, category, note, contravention, actor)
    except ValueError as e:
        _fail(str(e))
    typer.echo(f"whitelist gap {gap.id}: {gap.plate} ({gap.category}) flagged by {gap.flagged_by}")


@app.command()
def gaps(
    db: Db,
    format: Annotated[GapFormat, typer.Option("--format", help="csv writes only the data to stdout.")] = GapFormat.table,
) -> None:
    """List the open whitelist gaps (permitted vehicles missing from the list)."""
    with _existing(db).connect() as con:
        found = open_gaps(con)
    if format is GapFormat.csv:
        export_csv(found, sys.stdout)
        return
    if not found:
        typer.echo("no open whitelist gaps")
        return
    rows = [("id", "plate", "category", "flagged", "by", "contravention", "note")] + [
        (str(g.id), g.plate, g.category, f"{g.flagged_at.astimezone(LONDON):%Y-%m-%d %H:%M}", g.flagged_by,
         g.contravention_id or "", g.note or "")
        for g in found
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])
