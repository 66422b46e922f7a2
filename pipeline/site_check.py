"""`buslane site check SITE FOOTAGE...`: does a site file fit its camera's footage?

Commissioning a camera, before its first night: for each footage file it checks the resolution
against the site's zones (every polygon and the centreline inside the frame), that the start time
can be found, and the frame rate (at least 5 frames per second). Each problem is named; the exit
code is non-zero on any. The batch runs the same frame check on every file before analysing it.

    buslane site check sites/my_camera.yaml /footage/2026-11-21/first.mp4
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.footage import FootageError, open_footage, resolve_start
from pipeline.report import MIN_LEGAL_FPS
from pipeline.site import SiteConfig, SiteConfigError, load_site

app = typer.Typer(help="Camera site files: check them against the camera's footage.", no_args_is_help=True)


def frame_problems(site: SiteConfig, width: int, height: int) -> list[str]:
    """Each zone of the site with points outside a width x height frame, named by its field."""
    zones = [(f"lanes.{i}", p) for i, p in enumerate(site.lanes)] + [("centreline", site.centreline)]
    zones += [(f"exemption_zones.{i}", p) for i, p in enumerate(site.exemption_zones)]
    zones += [(f"ignore_zones.{i}", p) for i, p in enumerate(site.ignore_zones)]
    problems = []
    for name, points in zones:
        outside = [(x, y) for x, y in points if not (0 <= x <= width and 0 <= y <= height)]
        if outside:
            shown = ", ".join(f"({x:g}, {y:g})" for x, y in outside[:3]) + (", ..." if len(outside) > 3 else "")
            problems.append(f"{name}: {len(outside)} of {len(points)} points outside the {width}x{height} frame: {shown}")
    return problems


@dataclass(frozen=True)
class FileCheck:
    path: Path
    problems: tuple[str, ...]
    summary: str  # what was found, for a file without problems


def check_file(site: SiteConfig, path: Path, start: datetime | None = None) -> FileCheck:
    try:
        with open_footage(path) as video:
            info = video.info
    except FootageError as e:
        return FileCheck(path, (str(e).removeprefix(f"{path}: "),), "")
    problems = frame_problems(site, info.width, info.height)
    if info.fps < MIN_LEGAL_FPS:
        problems.append(f"frame rate {info.fps:g} frames/s, under the legal minimum of {MIN_LEGAL_FPS:g}")
    try:
        when = resolve_start(path, site.start_time, site.tz, start)
    except FootageError as e:
        problems.append(f"start time: {str(e).removeprefix(f'{path}: ')}")
        when = None
    summary = f"{info.width}x{info.height}, {info.fps:g} frames/s, starts {when.isoformat() if when else '?'}"
    return FileCheck(path, tuple(problems), summary)


@app.command("check")
def check(
    site: Annotated[Path, typer.Argument(help="camera site YAML")],
    footage: Annotated[list[Path], typer.Argument(help="footage files from the camera")],
    start: Annotated[Optional[datetime], typer.Option(help="start of the footage, if the site takes it from the command line")] = None,
) -> None:
    """Check a site file against footage: resolution, zones inside the frame, start time, frame rate."""
    try:
        config = load_site(site)
    except SiteConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    bad = 0
    for path in footage:
        result = check_file(config, path, start)
        if result.problems:
            bad += 1
            for problem in result.problems:
                typer.echo(f"{path}: PROBLEM: {problem}")
        else:
            typer.echo(f"{path}: ok ({result.summary})")
    typer.echo(f"site {config.camera_id} ({site}): {bad} of {len(footage)} files with problems")
    if bad:
        raise typer.Exit(1)
