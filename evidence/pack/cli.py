"""`buslane pack ID --db PATH --out FILE.zip` (the same as `buslane pack create ...`) and
`buslane pack verify FILE.zip [--db PATH] [--public-key FILE]`.

    buslane pack SZ-BUSLANE-01-20160318-122126-T15 --db var/demo.duckdb --out pack.zip
    buslane pack verify pack.zip --db var/demo.duckdb      # exit 1 when anything fails
    buslane pack verify pack.zip --public-key council_pack_key.pub.pem   # offline, as an adjudicator

A pack is exported by the officer the OS user running the command is mapped to in the users file
(pipeline.users.cli_user), and signed with the council's key (evidence.keys).

Heavy imports (reportlab, python-docx) happen inside the commands, so `buslane --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import click
import typer
from typer.core import TyperGroup

from pipeline.store import Store


class _CreateByDefault(TyperGroup):
    """Reads `pack ID ...` as `pack create ID ...`: the short form sits beside the `verify` subcommand.

    Anything that is not a subcommand name or --help is taken as the start of `create`'s arguments.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["create", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_CreateByDefault, no_args_is_help=True,
    help="Evidence packs for appeals: `buslane pack ID --db PATH --out FILE.zip` makes one for a validated case; "
         "`buslane pack verify FILE.zip [--db PATH]` checks one.",
)

Db = Annotated[Path, typer.Option("--db", help="The DuckDB database file.")]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _store(db: Path) -> Store:
    if not db.exists():  # a mistyped path must not leave an empty database behind
        _fail(f"{db}: no such database", 2)
    return Store(db)


@app.command()
def create(
    case_id: Annotated[str, typer.Argument(metavar="ID", help="A validated contravention's id.")],
    db: Db,
    out: Annotated[Path, typer.Option("--out", help="The ZIP file to write.")],
    root: Annotated[Path | None, typer.Option(
        "--root", help="Evidence root; must be the one the database recorded (on first use: default "
                       "$BUSLANE_EVIDENCE, else var/evidence).", show_default=False)] = None,
) -> None:
    """Make the signed evidence pack of a validated case: summary PDF, witness statement draft, evidence, hashes.

    Exported by the officer your OS user is mapped to in the users file ($BUSLANE_USERS, else var/users.yaml).
    """
    from evidence.pack.builder import PackError, build_pack
    from evidence.settings import RootMismatch, resolve_root
    from pipeline.users import UnknownOSUser, cli_user

    try:
        officer = cli_user()
    except UnknownOSUser as e:
        _fail(str(e), 2)
    store = _store(db)
    try:
        root = resolve_root(store, root)
    except RootMismatch as e:
        _fail(f"different root: {e}", 2)
    try:
        result = build_pack(store, case_id, root, officer.name, out)
    except PackError as e:
        _fail(f"FAILED {e}", 1)
    typer.echo(f"{result.path}: pack {result.pack_id} of case {result.contravention_id}, {len(result.files)} files, "
               f"{result.zip_bytes:,} bytes")
    typer.echo(f"zip sha256 {result.zip_sha256}")
    typer.echo(f"manifest.json sha256 {result.manifest_sha256} (signed), exported by {result.created_by}")


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(metavar="FILE.zip", help="The pack to check.")],
    db: Annotated[Path | None, typer.Option(
        "--db", help="Also check the manifest against the hash recorded when the pack was made, and the history "
                     "head it carries against the database's history.", show_default=False)] = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="The council's published public key (default: the one beside its signing key, "
                             "$BUSLANE_SIGNING_KEY or var/keys).", show_default=False)] = None,
) -> None:
    """Check every file against the manifest, the manifest's signature (and the store); exit 1 on any failure."""
    from evidence.pack.verify import verify_pack

    result = verify_pack(file, _store(db) if db else None, public_key)
    for line in result.lines():
        typer.echo(line)
    if not result.ok:
        raise typer.Exit(1)
