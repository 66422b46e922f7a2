"""`buslane site check SITE FOOTAGE...`: does a site file fit its camera's footage?

Commissioning a camera, before its first night: it checks that each model setting names a model
(as the batch resolves it: a manifest name whose files are present and intact, or a model file or
folder), then for each footage file the resolution against the site's zones (every polygon and the
centreline inside the frame), that the start time can be found, and the frame rate (at least 5
frames per second). Each problem is named; the exit code is non-zero on any. The batch runs the
same frame check on every file before analysing it.

    buslane site check sites/my_camera.yaml /footage/2026-11-21/first.mp4
"""

from __future__ import annotations

import zipfile
from xml.etree import ElementTree
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml

from pipeline.footage import FootageError, open_footage, resolve_start
from pipeline.models import ModelError, load_manifest, resolve_model
from pipeline.report import MIN_LEGAL_FPS, printable
from pipeline.site import SiteConfig, SiteConfigError, load_site

app = typer.Typer(help="Camera site files: check them against the camera's footage.", no_args_is_help=True)


def frame_problems(site: SiteConfig, width: int, height: int) -> list[str]:
    """A frame size other than the site's `frame_size`, and each zone with points outside a width x
    height frame, named by its field."""
    if drawn := site.drawn_on_other_size(width, height):
        return [f"frame_size: the zones were drawn on {drawn} frames and this footage is {width}x{height}: "
                "draw the site again on this camera's frames (or, if this is another camera's, use its site)"]
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


# The file kinds each model setting loads, when it names a path rather than a manifest model.
FILE_KINDS = {"detection.model": (".onnx", ".pt", ".xml"), "plates.detector": (".onnx", ".pt"), "plates.ocr": (".onnx",),
              "plates.ocr_config": (".yaml", ".yml")}


def model_problems(site: SiteConfig) -> list[str]:
    """Each model setting the batch would refuse the night for, named by its field. Cheap: the
    resolver's checks (present, sha256), a look at a folder and, for a file given by path, that it
    is the kind of file the setting loads (an ONNX graph, a PyTorch archive, a plate config)."""
    problems = []
    for name, value in site.model_settings().items():
        try:
            path = resolve_model(value)
        except ModelError as e:
            problems.append(f"{name}: {e}")
            continue
        if path.is_dir() and not _model_folder(path):
            problems.append(f"{name}: {value!r} is a folder that holds no model (an OpenVINO folder holds a .xml, "
                            f"an ultralytics export folder is named *_model)")
        elif path.is_file() and value not in load_manifest() and (wrong := _file_problem(path, FILE_KINDS[name])):
            problems.append(f"{name}: {value!r} {wrong}")
    return problems


def _model_folder(path: Path) -> bool:
    """A folder the detectors load: OpenVINO's own (a .xml in it) or an ultralytics export (named so)."""
    return any(path.glob("*.xml")) or path.name.endswith("_model")


def _file_problem(path: Path, kinds: tuple[str, ...]) -> str | None:
    """Why `path` is not a file of one of `kinds` (by suffix, then by content), or None."""
    suffix = path.suffix.lower()
    if suffix not in kinds:
        return f"is not a {' or '.join(kinds)} file"
    try:
        if suffix == ".onnx":
            import onnx

            onnx.checker.check_model(onnx.load(str(path), load_external_data=False))
        elif suffix == ".pt":
            if not zipfile.is_zipfile(path):
                return "is not a PyTorch model (not a zip archive)"
        elif suffix == ".xml":
            if ElementTree.parse(path).getroot().tag != "net" or not path.with_suffix(".bin").is_file():
                return "is not an OpenVINO model (a <net> graph with its .bin beside it)"
        else:
            config = yaml.safe_load(path.read_text())
            missing = {"alphabet", "max_plate_slots"} - set(config if isinstance(config, dict) else ())
            if missing:
                return f"is not a plate OCR config (no {', '.join(sorted(missing))})"
    except Exception as e:  # any parse failure means the batch could not load it either
        return f"is not a valid {suffix} file ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    return None


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
    """Check a site file against footage: models, resolution, zones inside the frame, start time, frame rate."""
    try:
        config = load_site(site)
    except SiteConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    models = model_problems(config)
    for problem in models:
        typer.echo(f"{printable(str(site))}: PROBLEM: {problem}")
    bad = 0
    for path in footage:
        result = check_file(config, path, start)
        if result.problems:
            bad += 1
            for problem in result.problems:
                typer.echo(printable(f"{path}: PROBLEM: {problem}"))
        else:
            typer.echo(printable(f"{path}: ok ({result.summary})"))
    settings = f"{len(models)} model setting{'s' if len(models) > 1 else ''} with problems, " if models else ""
    typer.echo(printable(f"site {config.camera_id} ({site}): {settings}{bad} of {len(footage)} files with problems"))
    if config.frame_size is None:  # not a problem: older site files, and the example, have none
        typer.echo(printable(f"note: {site} does not name its frame_size, so footage of another size that its "
                             "zones fit is not noticed; add `frame_size: [WIDTH, HEIGHT]` (the Sites page writes it)"))
    if bad or models:
        raise typer.Exit(1)
