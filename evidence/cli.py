"""`buslane evidence ...` (write, verify, root), `buslane retention apply` and `buslane appeal hold|release`.

Every command uses the evidence root the database recorded (evidence.settings.resolve_root); a
`--root` that differs is refused with exit 2, and `evidence root --move-root` records a move.
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
appeal_app = typer.Typer(help="Hold a case's evidence while it is under appeal, and release it.", no_args_is_help=True)

Db = Annotated[Path, typer.Option("--db", help="The DuckDB database file.")]
Root = Annotated[Path | None, typer.Option(
    "--root", help="Evidence root; must be the one the database recorded (on first use: default "
                   "$BUSLANE_EVIDENCE, else var/evidence).", show_default=False)]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _store(db: Path):
    from pipeline.store import Store

    if not db.exists():  # a mistyped path must not leave an empty database behind
        _fail(f"{db}: no such database")
    return Store(db)


def _root(store, root: Path | None) -> Path:
    """The database's recorded root; a different --root is refused here, before anything is read."""
    from evidence.settings import RootMismatch, resolve_root

    try:
        return resolve_root(store, root)
    except RootMismatch as e:
        _fail(f"different root: {e}")


def _cli_user(supervisor: bool = False):
    """The officer the OS user running this command is mapped to (pipeline.users): who it is recorded under."""
    from pipeline.users import UnknownOSUser, cli_user

    try:
        user = cli_user()
    except UnknownOSUser as e:
        _fail(str(e))
    if supervisor and not user.is_supervisor:
        _fail(f"{user.name} is an {user.role}: only a supervisor can do this")
    return user


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
    from evidence.writer import missing_evidence, write_case
    from pipeline.site import SiteConfigError, load_site

    actor = _cli_user().name
    store = _store(db)
    try:
        config = load_site(site)
    except SiteConfigError as e:
        _fail(str(e))
    if missing:
        ids = [*(ids or []), *missing_evidence(store, config.camera_id)]
    if not ids:
        _fail("give contravention ids or --missing")
    evidence_root = _root(store, root)
    failed = 0
    for case_id in ids:
        try:
            folder = write_case(store, case_id, config, site, evidence_root, actor=actor)
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
    all_: Annotated[bool, typer.Option("--all", help="Every contravention (one without evidence fails) and every case folder.")] = False,
    root: Root = None,
) -> None:
    """Recompute every file's sha256; name each missing, altered or unexpected file. Exit 1 on any failure."""
    from evidence.verify import verify_all, verify_case

    if bool(case_id) == all_:
        _fail("give one contravention ID or --all")
    store = _store(db)
    evidence_root = _root(store, root)
    results = verify_all(store, evidence_root) if all_ else [verify_case(store, case_id, evidence_root)]
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
    rejected_days: Annotated[int, typer.Option(min=0, help="Keep rejected cases this many days.")] = DEFAULT_RULES.rejected_days,
    exempt_days: Annotated[int, typer.Option(min=0, help="Keep whitelisted or exempt cases this many days.")] = DEFAULT_RULES.exempt_days,
    validated_days: Annotated[int, typer.Option(min=0, help="Keep validated cases this many days (notice + appeal window).")] = DEFAULT_RULES.validated_days,
    exported_days: Annotated[int, typer.Option(min=0, help="Keep any case this many days after its evidence pack was exported.")] = DEFAULT_RULES.exported_days,
) -> None:
    """Delete evidence folders by the retention rules; database rows stay, and each deletion is audited.

    Ages count from the contravention's first sighting. Pending cases, cases held for appeal and
    cases whose pack was exported within --exported-days are never touched.
    """
    from evidence.retention import apply_retention
    from evidence.settings import UnsafePath

    when = None
    if now:
        try:
            when = datetime.fromisoformat(now)
        except ValueError:
            _fail(f"--now {now!r} is not an ISO-8601 time")
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    rules = RetentionRules(rejected_days, exempt_days, validated_days, exported_days)
    store = _store(db)
    try:
        done = apply_retention(store, _root(store, root), rules, now=when, dry_run=dry_run,
                               actor=None if dry_run else _cli_user().name)
    except UnsafePath as e:
        _fail(f"nothing deleted: {e}")
    for d in done:
        typer.echo(f"{'would delete' if dry_run else 'deleted'} {d.contravention_id}: {d.reason}: {d.folder}")
    typer.echo(f"{len(done)} case folders {'would be deleted (dry run)' if dry_run else 'deleted'}", err=True)


@app.command("root")
def root_command(
    db: Db,
    move_root: Annotated[Path | None, typer.Option(
        "--move-root", help="Record that the evidence folders now live under this folder (audited).",
        show_default=False)] = None,
) -> None:
    """Print the evidence root the database recorded, or record a new one after moving the folders."""
    from evidence.settings import EvidenceError, case_folder, move_root as record_move, recorded_root

    store = _store(db)
    if move_root is None:
        with store.connect() as con:
            typer.echo(recorded_root(con) or "no evidence root recorded yet (the first command to use one records it)")
        return
    try:
        old, new = record_move(store, move_root, _cli_user().name)
        live = store.query("SELECT contravention_id, folder FROM evidence_cases WHERE deleted_at IS NULL")
        found = sum(case_folder(new, r["folder"], r["contravention_id"]).is_dir() for r in live)
    except EvidenceError as e:
        _fail(str(e))
    typer.echo(f"evidence root moved from {old} to {new}: {found} of {len(live)} case folders are there")


def _appeal(case_id: str, db: Path, reason: str, hold: bool) -> None:
    from evidence import appeals

    supervisor = _cli_user(supervisor=True)
    try:
        done = (appeals.hold if hold else appeals.release)(_store(db), case_id, supervisor.name, reason)
    except appeals.AppealError as e:
        _fail(str(e))
    typer.echo(f"case {case_id} {'held for appeal' if done.held else 'released from its appeal hold'} by {done.actor}")


CaseId = Annotated[str, typer.Argument(metavar="ID", help="A contravention id.")]
Reason = Annotated[str, typer.Option("--reason", help="Why, e.g. the appeal's reference (kept in the audit log).")]


@appeal_app.command("hold")
def appeal_hold(case_id: CaseId, db: Db, reason: Reason) -> None:
    """Mark a case as under appeal (supervisors): retention never deletes its evidence while it is held."""
    _appeal(case_id, db, reason, hold=True)


@appeal_app.command("release")
def appeal_release(case_id: CaseId, db: Db, reason: Reason) -> None:
    """End a case's appeal hold (supervisors); retention rules apply to it again."""
    _appeal(case_id, db, reason, hold=False)
