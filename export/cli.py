"""`buslane export pcn ...` and `buslane export keeper-enquiry ...`: files for the back office.

Recorded under the officer the OS user running the command is mapped to (pipeline.users.cli_user).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

app = typer.Typer(no_args_is_help=True,
                  help="Hand validated cases to penalty processing and to the DVLA keeper enquiry.")

Db = Annotated[Path, typer.Option("--db", help="The DuckDB database file.")]
Since = Annotated[Optional[datetime], typer.Option(
    "--since", formats=["%Y-%m-%d"], help="Only contraventions on or after this day (UK), YYYY-MM-DD.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _open(db: Path):
    from pipeline.store import Store
    from pipeline.users import UnknownOSUser, cli_user

    try:
        officer = cli_user()
    except UnknownOSUser as e:
        _fail(str(e))
    if not db.exists():  # a mistyped path must not leave an empty database behind
        _fail(f"{db}: no such database")
    return Store(db), officer


@app.command()
def pcn(
    db: Db,
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    since: Since = None,
    again: Annotated[Optional[list[str]], typer.Option(
        "--again", help="Export this case again although it was exported before (repeat for more).")] = None,
    packs: Annotated[Optional[Path], typer.Option(
        "--packs", help="Folder of the evidence packs sent with the file (default: packs/ beside --out).")] = None,
) -> None:
    """Every validated case not yet exported, one row each, with its signed evidence pack (made if missing)."""
    from evidence.pack.builder import PackError
    from evidence.settings import resolve_root
    from export.cases import ExportError
    from export.pcn import export_pcn

    store, officer = _open(db)
    try:
        done = export_pcn(store, officer.name, format, out.name, resolve_root(store), packs or out.parent / "packs",
                          _day(since), tuple(again or ()), out)
    except (ExportError, PackError) as e:
        _fail(f"FAILED {e}", 1)
    typer.echo(f"{out}: export {done.export_id}, {len(done.cases)} cases, sha256 {done.sha256}, by {done.created_by}",
               err=True)


@app.command("keeper-enquiry")
def keeper_enquiry(
    db: Db,
    out: Annotated[Path, typer.Option("--out", help="The enquiry file (CSV): UK plates and plates of unknown country.")],
    foreign: Annotated[Optional[Path], typer.Option(
        "--foreign", help="The foreign-vehicle file (CSV): plates read or corrected as another country's.")] = None,
    since: Since = None,
) -> None:
    """Registrations and dates of validated cases for the DVLA keeper enquiry; foreign plates apart."""
    from export.cases import ExportError
    from export.keeper import export_keeper_enquiry

    store, officer = _open(db)
    try:
        done = export_keeper_enquiry(store, officer.name, out, foreign, _day(since))
    except ExportError as e:
        _fail(f"FAILED {e}", 1)
    for r, path in ((done.enquiry, out), (done.foreign, foreign)):
        if r is not None:
            typer.echo(f"{path}: export {r.export_id}, {len(r.cases)} cases, sha256 {r.sha256}", err=True)
