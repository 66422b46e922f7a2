"""`buslane evidence ...` (write, verify) and `buslane retention apply`.

Heavy imports (PyAV, OpenCV) happen inside the commands, so `buslane --help` stays fast.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from evidence.retention import RetentionRules

DEFAULT_RULES = RetentionRules()

app = typer.Typer(help="Evidence folders: write them, verify their hashes.", no_args_is_help=True)
retention_app = typer.Typer(help="Delete evidence that is no longer needed, by the retention rules.",
                            no_args_is_help=True)

Db = Annotated[Path, typer.Option("--db", help="The DuckDB database file.")]
Root = Annotated[Path | None, typer.Option(
    "--root", help="Evidence root (default: $BUSLANE_EVIDENCE, else var/evidence).", show_default=False)]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _store(db: Path):
    from pipeline.store import Store

    if not db.exists():  # a mistyped path must not leave an empty database behind
        _fail(f"{db}: no such database")
    return Store(db)


def _root(root: Path | None) -> Path:
    from evidence.settings import default_root

    return root or default_root()


@app.command()
def write(
    site: Annotated[Path, typer.Option("--site", help="The camera's site YAML the batch used.")],
    db: Db,
    ids: Annotated[list[str] | None, typer.Argument(help="Contravention ids.", show_default=False)] = None,
    root: Root = None,
    missing: Annotated[bool, typer.Option("--missing", help="Every contravention of the site's camera without evidence.")] = False,
) -> None:
    """Write (or rewrite) evidence folders, e.g. for cases recorded before evidence was written."""
    from evidence.settings import EvidenceError
    from evidence.writer import write_case
    from pipeline.site import SiteConfigError, load_site

    store = _store(db)
    try:
        config = load_site(site)
    except SiteConfigError as e:
        _fail(str(e))
    if missing:
        ids = [*(ids or []), *(r["id"] for r in store.query(
            "SELECT id FROM contraventions WHERE camera_id = ? AND id NOT IN (SELECT contravention_id FROM evidence_cases)"
            " ORDER BY id", [config.camera_id]))]
    if not ids:
        _fail("give contravention ids or --missing")
    failed = 0
    for case_id in ids:
        try:
            folder = write_case(store, case_id, config, site, _root(root))
        except EvidenceError as e:
            typer.echo(f"FAILED {e}", err=True)
            failed += 1
            continue
        seconds = store.query("SELECT seconds_taken FROM evidence_cases WHERE contravention_id = ?", [case_id])
        typer.echo(f"{case_id}: {folder} ({seconds[0]['seconds_taken']:.2f} s)")
    if failed:
        raise typer.Exit(1)


@app.command()
def verify(
    db: Db,
    case_id: Annotated[str | None, typer.Argument(metavar="ID", help="A contravention id.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every case with evidence.")] = False,
    root: Root = None,
) -> None:
    """Recompute every file's sha256; name each missing, altered or unexpected file. Exit 1 on any failure."""
    from evidence.verify import verify_all, verify_case

    if bool(case_id) == all_:
        _fail("give one contravention ID or --all")
    store = _store(db)
    results = verify_all(store, _root(root)) if all_ else [verify_case(store, case_id, _root(root))]
    for result in results:
        for line in result.lines():
            typer.echo(line)
    bad = sum(not r.ok for r in results)
    typer.echo(f"{len(results)} cases checked, {bad} failed", err=True)
    if bad:
        raise typer.Exit(1)


@retention_app.command()
def apply(
    db: Db,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")] = False,
    root: Root = None,
    now: Annotated[str | None, typer.Option(help="Judge ages at this ISO time instead of now (UTC if no offset).",
                                            show_default=False)] = None,
    rejected_days: Annotated[int, typer.Option(help="Keep rejected cases this many days.")] = DEFAULT_RULES.rejected_days,
    exempt_days: Annotated[int, typer.Option(help="Keep whitelisted or exempt cases this many days.")] = DEFAULT_RULES.exempt_days,
    validated_days: Annotated[int, typer.Option(help="Keep validated cases this many days (notice + appeal window).")] = DEFAULT_RULES.validated_days,
) -> None:
    """Delete evidence folders by the retention rules; database rows stay, and each deletion is audited.

    Ages count from the contravention's first sighting. Pending cases are never touched.
    """
    from evidence.retention import apply_retention

    when = None
    if now:
        try:
            when = datetime.fromisoformat(now)
        except ValueError:
            _fail(f"--now {now!r} is not an ISO-8601 time")
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    rules = RetentionRules(rejected_days, exempt_days, validated_days)
    done = apply_retention(_store(db), _root(root), rules, now=when, dry_run=dry_run)
    for d in done:
        typer.echo(f"{'would delete' if dry_run else 'deleted'} {d.contravention_id}: {d.reason}: {d.folder}")
    typer.echo(f"{len(done)} case folders {'would be deleted (dry run)' if dry_run else 'deleted'}", err=True)
