"""The `buslane` command line. Data goes to standard output; logs and progress to standard error."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from evidence.cli import app as evidence_app
from evidence.cli import appeal_app, retention_app
from evidence.keys import app as keys_app
from evidence.pack.cli import app as pack_app
from export.cli import app as export_app
from pipeline.plates.cli import register as register_plate_commands
from pipeline.site_check import app as site_app
import pipeline.site_preview  # noqa: E402,F401  registers `site preview` on the site app
from review_app.cli import register as register_review_commands
from whitelist.cli import app as whitelist_app

app = typer.Typer(help="Bus lane enforcement from fixed CCTV.", no_args_is_help=True, add_completion=False)

Db = Annotated[Path, typer.Option("--db", help="DuckDB database file")]


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(2)


def print_rows(rows: list[dict], fmt: Format, columns: tuple[str, ...]) -> None:
    if fmt is Format.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif fmt is Format.csv:
        from pipeline.csvsafe import write_dicts

        write_dicts(sys.stdout, rows, columns)  # formula-like text neutralised for spreadsheets
    else:
        widths = {c: max([len(c)] + [len(str(r[c])) for r in rows]) for c in columns}
        typer.echo("  ".join(c.ljust(widths[c]) for c in columns))
        for r in rows:
            typer.echo("  ".join(str(r[c]).ljust(widths[c]) for c in columns))


@app.command()
def process(
    site: Annotated[Path, typer.Argument(help="camera site YAML")],
    footage: Annotated[list[Path], typer.Argument(help="footage files")],
    db: Db,
    start: Annotated[Optional[datetime], typer.Option(help="start of the footage, ISO 8601 (local to the site if no offset)")] = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
    workers: Annotated[Optional[int], typer.Option(help="files analysed at once (default: one per core)")] = None,
    engine: Annotated[str, typer.Option(help="local, or ray to spread files over a Ray cluster")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address (default: start a local one)")] = None,
    evidence: Annotated[Optional[Path], typer.Option(help="evidence root; must be the one the database recorded (on first use: default $BUSLANE_EVIDENCE or var/evidence)")] = None,
) -> None:
    """Process a night's footage for one camera site into the database."""
    from evidence.settings import EvidenceError
    from pipeline.batch import Batch
    from pipeline.models import ModelError
    from pipeline.site import SiteConfigError

    _setup_logging()
    try:
        if engine not in ("local", "ray"):
            _fail(f"--engine: unknown engine {engine!r} (local or ray)")
        batch = Batch.from_files(site, db, start=start, progress=progress, workers=workers, engine=engine,
                                 address=address, evidence_root=evidence)
        summary = batch.run(footage)
    except (SiteConfigError, ModelError, EvidenceError) as e:
        _fail(str(e))
    for line in summary.lines():
        typer.echo(line, err=True)
    if not summary.ok:
        raise typer.Exit(1)


@app.command("contraventions")
def list_contraventions(
    db: Db,
    format: Annotated[Format, typer.Option("--format")] = Format.table,
    status: Annotated[Optional[str], typer.Option(help="only this status, e.g. pending")] = None,
) -> None:
    """List contraventions, soonest review deadline first."""
    from pipeline.report import CONTRAVENTION_COLUMNS, contraventions
    from pipeline.store import Store

    print_rows(contraventions(Store(db), status), format, CONTRAVENTION_COLUMNS)


@app.command()
def report(
    db: Db,
    accuracy: Annotated[bool, typer.Option("--accuracy", help="Also each camera's weeks as the officers decided them: "
                                           "validated, rejected by reason, plates corrected, gaps, time to decision.")] = False,
) -> None:
    """Morning report per camera: coverage, gaps, frame rate, failures, passages, contraventions, rejections up."""
    from pipeline.history import verify_chain
    from pipeline.report import morning_report
    from pipeline.store import Store

    if accuracy:
        from pipeline.accuracy import accuracy as camera_weeks

        weeks = camera_weeks(Store(db))
        typer.echo("accuracy from officers' decisions, per camera and ISO week:" if weeks else "no decisions yet")
        for w in weeks:
            typer.echo(f"  {w.text()}")
    reports = morning_report(Store(db))
    if not reports:
        typer.echo("no footage recorded yet")
    for r in reports:
        typer.echo("\n".join(r.lines()))
    with Store(db).connect() as con:  # the head to compare with tomorrow's: a rewrite changes it
        typer.echo(verify_chain(con).lines()[0])


audit_app = typer.Typer(help="The audit log's hash chain: the decision history proves itself.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(db: Db) -> None:
    """Check the whole history chain; name the first broken row (table, id, what differs). Exit 1 if broken."""
    from pipeline.history import verify_chain
    from pipeline.store import Store

    if not db.exists():  # a mistyped path must not leave an empty database behind
        _fail(f"{db}: no such database")
    with Store(db).connect() as con:
        check = verify_chain(con)
    typer.echo("\n".join(check.lines()))
    if not check.ok:
        raise typer.Exit(1)


bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("speed")
def bench_speed(
    night: Annotated[bool, typer.Option(help="include the assembled 20-minute night clip")] = True,
    cache: Annotated[Path, typer.Option(help="where the night clip is built and kept")] = Path("var/bench"),
    detector: Annotated[Optional[str], typer.Option(help="vehicle detector for every run, baseline included, a manifest name or a path (default: each site's own)")] = None,
) -> None:
    """Decode-only, baseline and `buslane process` frames per second on the benchmark clips."""
    from pipeline.bench.night_clip import night_clip
    from pipeline.bench.speed import bench
    from pipeline.models import PROJECT_ROOT

    _setup_logging()
    footage = PROJECT_ROOT.parent / "shared" / "data" / "footage"
    shenzhen = footage / "shenzhen_buslane_fixed_cctv_640x360.mp4"
    bus_lane = PROJECT_ROOT / "sites" / "shenzhen_buslane.yaml"
    clips = [
        ("shenzhen (dense daytime)", shenzhen, bus_lane),
        ("motorway 720p", footage / "motorway_overpass_fixed_720p.mp4", PROJECT_ROOT / "sites" / "motorway_overpass.yaml"),
    ]
    if night:
        clips.append(("night (20 min, assembled)", night_clip(shenzhen, cache), bus_lane))
    for line in bench(clips, detector):
        typer.echo(line)


@bench_app.command("lanes")
def bench_lanes(
    detector: Annotated[Optional[str], typer.Option(help="vehicle detector for every clip, a manifest name or a path (default: each site's own)")] = None,
    variant: Annotated[Optional[list[str]], typer.Option(help="also run degraded copies of the clips: half, double, 1080p, lowfps, night, dim, or all (repeatable)")] = None,
) -> None:
    """Recall and false positives of `buslane process` and the baseline on the clips labelled in tests/labels."""
    from pipeline.bench.lanes import bench
    from pipeline.bench.variants import VARIANTS

    names = list(VARIANTS) if variant == ["all"] else (variant or [])
    if unknown := [n for n in names if n not in VARIANTS]:
        raise typer.BadParameter(f"unknown variant {', '.join(unknown)} (known: {', '.join(VARIANTS)}, all)")
    _setup_logging()
    for line in bench(detector, variants=[VARIANTS[n] for n in names]):
        typer.echo(line)


app.add_typer(whitelist_app, name="whitelist")
app.add_typer(evidence_app, name="evidence")
app.add_typer(retention_app, name="retention")
app.add_typer(appeal_app, name="appeal")
app.add_typer(pack_app, name="pack")
app.add_typer(export_app, name="export")
app.add_typer(site_app, name="site")
app.add_typer(keys_app, name="keys")
register_review_commands(app)
register_plate_commands(app)
