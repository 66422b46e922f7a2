"""Commissioning a camera on the Sites page: a site file drawn on a frame of its footage.

The page draws on a `streamlit-drawable-canvas` (Fabric.js) shown at DISPLAY_WIDTH, usually not the
frame's own size, so everything drawn is converted between canvas pixels and frame pixels here:
`site_to_drawing` (a site's zones as the canvas's initial drawing) and `drawing_to_geometry` (the
canvas's objects back to the site's pixel polygons). Which part of the site an object is comes from
its stroke colour, the colour the page draws that layer in (the preview's colours).

The hours, exempt classes and thresholds come from a form (`SiteForm`); `site_dict` merges them and
the drawing into the site file's own settings, so settings the page does not edit (detection,
calibration, ...) are kept as they were. The result is validated with the batch's own model
(pipeline.site.SiteConfig) and saved with `save_site`: the previous file is kept in
`.history/`, never overwritten, and the change is audited in the hash chain (who, which site, the
sha256 of the old and the new file).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import cv2
import holidays
import numpy as np
import yaml
from pydantic import ValidationError

from pipeline.footage import open_footage
from pipeline.site import WEEKDAYS, SiteConfig, SiteConfigError, Thresholds, load_site
from pipeline.store import Store, audit

DISPLAY_WIDTH = 800   # canvas pixels: fits beside the sidebar at 1366x768
DECIMALS = 1          # frame pixels are saved to a tenth: finer than anyone clicks, and a loaded site round-trips
HISTORY = ".history"  # previous versions, beside the site files
FOOTAGE_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".ts", ".m4v")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class SiteError(ValueError):
    """A site, a footage file or a frame the page cannot use; the message names it."""


@dataclass(frozen=True)
class Layer:
    key: str        # the site's field
    label: str
    colour: str     # stroke on the canvas: how an object's layer is known
    fill: str
    mode: str       # the canvas's drawing_mode


# The preview's colours (pipeline/site_preview.py, there in BGR).
LAYERS = (
    Layer("lanes", "Lane", "#00c800", "rgba(0, 200, 0, 0.15)", "polygon"),
    Layer("centreline", "Centreline (in the direction of travel)", "#ffdc00", "rgba(0, 0, 0, 0)", "line"),
    Layer("exemption_zones", "Exemption zone", "#0080ff", "rgba(0, 128, 255, 0.15)", "polygon"),
    Layer("ignore_zones", "Ignore zone", "#a0a0a0", "rgba(160, 160, 160, 0.25)", "polygon"),
)
STROKE_WIDTH = 2
_BY_COLOUR = {layer.colour: layer for layer in LAYERS}
_ORIGIN = {"left": -0.5, "top": -0.5, "center": 0.0, "right": 0.5, "bottom": 0.5}


@dataclass(frozen=True)
class Canvas:
    """The canvas's size for a frame, canvas pixels per frame pixel along each axis, and the frame's size."""
    width: int
    height: int
    scale_x: float
    scale_y: float
    frame_width: int
    frame_height: int


def canvas_for(frame_width: int, frame_height: int, width: int = DISPLAY_WIDTH) -> Canvas:
    height = round(frame_height * width / frame_width)
    return Canvas(width, height, width / frame_width, height / frame_height, frame_width, frame_height)


def _to_canvas(points, canvas: Canvas) -> list[dict]:
    return [{"x": x * canvas.scale_x, "y": y * canvas.scale_y} for x, y in points]


def _to_frame(xy: np.ndarray, canvas: Canvas) -> list[list[float]]:
    return [[_number(x / canvas.scale_x), _number(y / canvas.scale_y)] for x, y in xy]


def _number(value: float) -> float | int:
    value = round(float(value), DECIMALS)
    return int(value) if value.is_integer() else value


def geometry_of(site: SiteConfig) -> dict:
    """The site's drawn parts, in frame pixels, as drawing_to_geometry gives them."""
    return {"lanes": [[list(p) for p in polygon] for polygon in site.lanes],
            "centreline": [list(p) for p in site.centreline],
            "exemption_zones": [[list(p) for p in polygon] for polygon in site.exemption_zones],
            "ignore_zones": [[list(p) for p in polygon] for polygon in site.ignore_zones],
            "frame_size": list(site.frame_size) if site.frame_size else None}


def site_to_drawing(geometry: dict, canvas: Canvas) -> dict:
    """A site's drawn parts (frame pixels, as geometry_of) as Fabric.js objects in canvas pixels: the
    canvas's initial drawing. Objects are given by their points only, so Fabric places them exactly
    where the points are."""
    def shape(kind: str, layer: Layer, points) -> dict:
        return {"type": kind, "points": _to_canvas(points, canvas), "stroke": layer.colour, "fill": layer.fill,
                "strokeWidth": STROKE_WIDTH}

    lanes, centreline, exemption, ignore = LAYERS
    return {"objects": [shape("Polygon", lanes, p) for p in geometry["lanes"]]
            + ([shape("Polyline", centreline, geometry["centreline"])] if geometry["centreline"] else [])
            + [shape("Polygon", exemption, p) for p in geometry["exemption_zones"]]
            + [shape("Polygon", ignore, p) for p in geometry["ignore_zones"]]}


def other_size(site: SiteConfig, frame: np.ndarray) -> str | None:
    """What to tell the engineer when the frame to draw on is not the size the site's zones were
    drawn on (its frame_size): the zones keep their pixels, so on the new size they sit elsewhere."""
    height, width = frame.shape[:2]
    if not (drawn := site.drawn_on_other_size(width, height)):
        return None
    return (f"This site was drawn on {drawn} frames and this frame is {width}x{height}: its zones keep their "
            f"pixel positions, so they no longer sit on the road as drawn. Draw them again on this frame before "
            f"saving (the site will then take {width}x{height} footage only).")


def drawing_to_geometry(drawing: dict | None, canvas: Canvas) -> dict:
    """The canvas's objects as the site's `lanes`, `centreline`, `exemption_zones` and `ignore_zones`,
    in frame pixels, and the `frame_size` they were drawn on. The centreline may be drawn as several
    lines, in order along the lane: each continues from where the one before it ended (its own first
    point is not used)."""
    geometry: dict = {"lanes": [], "centreline": [], "exemption_zones": [], "ignore_zones": []}
    for n, obj in enumerate((drawing or {}).get("objects") or [], start=1):
        layer = _BY_COLOUR.get(str(obj.get("stroke", "")).lower())
        what = f"drawing: shape {n} ({obj.get('type')})"
        if layer is None:
            raise SiteError(f"{what} is not in the colour of a lane, centreline or zone; delete it")
        points = _to_frame(_canvas_points(obj, what), canvas)
        if layer.key == "centreline":
            geometry["centreline"] += points if not geometry["centreline"] else points[1:]
        elif obj.get("type") in ("Polygon", "polygon"):
            geometry[layer.key].append(points)
        else:
            raise SiteError(f"{what}: a {layer.label.lower()} is drawn as a polygon")
    geometry["frame_size"] = [canvas.frame_width, canvas.frame_height]  # what the zones' pixels are of
    return geometry


def _canvas_points(obj: dict, what: str) -> np.ndarray:
    """An object's points in canvas pixels, through Fabric.js's own transform (v6: the object's
    centre from left/top and its origin, then rotation, scale and flip), so a shape moved, scaled or
    turned with the canvas's edit tool is read where it is shown."""
    kind = obj.get("type")
    if obj.get("skewX") or obj.get("skewY"):
        raise SiteError(f"{what} is skewed; draw it again")
    if kind in ("Polygon", "Polyline", "polygon", "polyline"):
        points = np.array([[p["x"], p["y"]] for p in obj["points"]], float)
        if "left" not in obj:  # as site_to_drawing writes them: placed by their points
            return points
        low, high = points.min(axis=0), points.max(axis=0)
        size, local = high - low, points - (low + high) / 2  # Fabric draws the points around their box's centre
    elif kind in ("Line", "line"):
        # Fabric serialises a line's ends relative to its centre (Line.calcLinePoints).
        local = np.array([[obj["x1"], obj["y1"]], [obj["x2"], obj["y2"]]], float)
        size = np.abs(local[1] - local[0])
    else:
        raise SiteError(f"{what}: only polygons and lines are read; delete it")
    scale = np.array([obj.get("scaleX", 1.0) * (-1 if obj.get("flipX") else 1),
                      obj.get("scaleY", 1.0) * (-1 if obj.get("flipY") else 1)], float)
    stroke = float(obj.get("strokeWidth", 0) or 0)
    dims = (size * np.abs(scale) + stroke) if obj.get("strokeUniform") else (size + stroke) * np.abs(scale)
    corner = np.array([obj["left"], obj["top"]], float)
    offset = np.array([-_ORIGIN[obj.get("originX", "left")], -_ORIGIN[obj.get("originY", "top")]]) * dims
    angle = math.radians(float(obj.get("angle", 0) or 0))
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centre = corner + turn @ offset
    return centre + (local * scale) @ turn.T


@dataclass
class SiteForm:
    """What the page's form edits: hours by weekday, bank holidays, exempt classes, thresholds."""
    camera_id: str = ""
    location: str = ""
    at_any_time: bool = False
    day_windows: dict[str, str] = field(default_factory=lambda: dict.fromkeys(WEEKDAYS, ""))  # "07:00-10:00, 12:00-19:00"
    treat_as_sunday: list[date] = field(default_factory=list)
    no_enforcement: str = ""  # "2026-05-01, 2026-05-02"
    exempt_classes: list[str] = field(default_factory=lambda: ["bus"])
    thresholds: dict = field(default_factory=lambda: Thresholds().model_dump())
    start_source: str = "cli"
    start_pattern: str = ""
    start_format: str = ""


def form_from_site(site: SiteConfig) -> SiteForm:
    hours = site.hours
    return SiteForm(
        camera_id=site.camera_id, location=site.location, at_any_time=hours.at_any_time,
        day_windows={day: ", ".join(str(w) for w in hours.windows_on(i)) for i, day in enumerate(WEEKDAYS)},
        treat_as_sunday=list(hours.treat_as_sunday),
        no_enforcement=", ".join(d.isoformat() for d in hours.no_enforcement),
        exempt_classes=list(site.exempt_classes), thresholds=site.thresholds.model_dump(),
        start_source=site.start_time.source, start_pattern=site.start_time.pattern or "",
        start_format=site.start_time.format or "",
    )


def bank_holidays(years) -> dict[date, str]:
    """England and Wales bank holidays in `years` (the `holidays` package), by date."""
    return dict(sorted(holidays.UK(subdiv="ENG", years=list(years)).items()))


def follow_years(chosen: list[date], before, after) -> list[date]:
    """The bank holidays chosen once the years shown change from `before` to `after`: a year added
    brings all of its bank holidays, a year taken away takes its own (other dates stay)."""
    added, removed = set(after) - set(before), set(before) - set(after)
    gone = bank_holidays(removed) if removed else {}
    return sorted({d for d in chosen if d not in gone} | set(bank_holidays(added) if added else {}))


def _windows(day_windows: dict[str, str]) -> dict[str, list[str]]:
    """Weekday windows as the site file writes them: runs of days with the same windows as one range."""
    out: dict[str, list[str]] = {}
    days = [(day, [w.strip() for w in day_windows.get(day, "").split(",") if w.strip()]) for day in WEEKDAYS]
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1][1] == days[i][1]:
            j += 1
        if days[i][1]:
            out[days[i][0] if i == j else f"{days[i][0]}-{days[j][0]}"] = days[i][1]
        i = j + 1
    return out


def site_dict(base: dict, form: SiteForm, geometry: dict) -> dict:
    """The site file's settings: `base` (the file being edited, or {}) with the form and drawing in it."""
    try:
        no_enforcement = [date.fromisoformat(d.strip()) for d in form.no_enforcement.split(",") if d.strip()]
    except ValueError as e:
        raise SiteError(f"hours.no_enforcement: {e} (dates as YYYY-MM-DD, separated by commas)") from None
    hours = {"at_any_time": True} if form.at_any_time else {"windows": _windows(form.day_windows)}
    hours |= {"treat_as_sunday": sorted(form.treat_as_sunday), "no_enforcement": no_enforcement}
    start = dict(base.get("start_time") or {}) | {"source": form.start_source}
    for key, value in (("pattern", form.start_pattern), ("format", form.start_format)):
        if value.strip():
            start[key] = value.strip()
        else:
            start.pop(key, None)
    return {**base, "camera_id": form.camera_id.strip(), "location": form.location.strip(), **geometry,
            "hours": hours, "exempt_classes": list(form.exempt_classes),
            "thresholds": {k: v for k, v in form.thresholds.items() if v is not None}, "start_time": start}


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def text(self) -> str:
        return f"{self.field}: {self.message}"


def validate(settings: dict) -> SiteConfig | list[Problem]:
    """The batch's own validation (pipeline.site.SiteConfig): the site, or each problem by field."""
    try:
        return SiteConfig.model_validate(settings)
    except ValidationError as e:
        return [Problem(".".join(str(p) for p in err["loc"]) or "(site)", err["msg"].removeprefix("Value error, "))
                for err in e.errors()]


def site_path(sites_dir: Path, name: str) -> Path:
    """sites_dir/NAME.yaml; a name with a folder, '..' or odd characters is refused."""
    name = name.strip().removesuffix(".yaml")
    if not NAME_RE.fullmatch(name):
        raise SiteError(f"site file name: {name!r} is not a plain name (letters, digits, '_', '.', '-')")
    return _inside(sites_dir, sites_dir / f"{name}.yaml", "site file name")


def _inside(root: Path, path: Path, what: str) -> Path:
    if not path.resolve().is_relative_to(root.resolve()):
        raise SiteError(f"{what}: {path} is outside {root}; refusing it")
    return path


def list_sites(sites_dir: Path) -> list[str]:
    """The site files' names (without .yaml) in the sites folder."""
    if not sites_dir.is_dir():
        return []
    return sorted(p.stem for p in sites_dir.glob("*.yaml") if p.is_file() and NAME_RE.fullmatch(p.stem))


@dataclass(frozen=True)
class Loaded:
    name: str
    settings: dict      # the file as written, for the settings the page does not edit
    site: SiteConfig
    sha256: str


def load(sites_dir: Path, name: str) -> Loaded:
    path = site_path(sites_dir, name)
    try:
        site = load_site(path)
    except SiteConfigError as e:
        raise SiteError(str(e)) from None
    text = path.read_bytes()
    return Loaded(path.stem, yaml.safe_load(text), site, hashlib.sha256(text).hexdigest())


@dataclass(frozen=True)
class Saved:
    path: Path
    sha256: str
    previous: Path | None        # the version replaced, kept in .history/
    previous_sha256: str | None


def to_yaml(settings: dict) -> str:
    return yaml.safe_dump(settings, sort_keys=False, default_flow_style=None, allow_unicode=True)


def save_site(store: Store, sites_dir: Path, name: str, settings: dict, actor: str,
              expected_sha256: str | None) -> Saved:
    """Write the site file after validating it; the previous version goes to .history/ first.

    `expected_sha256` is the file as the page loaded it (None: a new site): if it changed on disk
    since (another supervisor saved it), nothing is written. The audit row and the file change
    together: the file is replaced inside the audit's transaction, last.
    """
    site = validate(settings)
    if isinstance(site, list):
        raise SiteError("; ".join(p.text() for p in site))
    path = site_path(sites_dir, name)
    old = path.read_bytes() if path.exists() else None
    old_sha = hashlib.sha256(old).hexdigest() if old is not None else None
    if old_sha != expected_sha256:
        raise SiteError(f"{path.name}: " + ("a site of this name already exists; open it to edit it" if expected_sha256 is None
                                            else "changed on disk since you opened it; open it again"))
    text = to_yaml(settings).encode()
    new_sha = hashlib.sha256(text).hexdigest()
    previous = None
    if old is not None:
        history = _inside(sites_dir, sites_dir / HISTORY, "site history")
        history.mkdir(parents=True, exist_ok=True)
        previous = history / f"{path.stem}.{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}.yaml"
        with open(previous, "xb") as f:  # "x": an earlier version is never overwritten
            f.write(old)
    with store.transaction() as con:
        audit(con, actor, "site.saved", "site", path.stem, file=path.name, camera_id=site.camera_id,
              old_sha256=old_sha, new_sha256=new_sha, previous=previous.name if previous else None)
        _write_atomically(path, text)
    return Saved(path, new_sha, previous, old_sha)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def list_footage(footage_dir: Path) -> list[str]:
    """Video files under the footage folder (relative paths), leaving out any that resolve outside it."""
    if not footage_dir.is_dir():
        return []
    root = footage_dir.resolve()
    return sorted(p.relative_to(footage_dir).as_posix() for p in footage_dir.rglob("*")
                  if p.suffix.lower() in FOOTAGE_SUFFIXES and p.is_file() and p.resolve().is_relative_to(root))


def footage_path(footage_dir: Path, relative: str) -> Path:
    """footage_dir/RELATIVE, refused unless it is a file inside the footage folder."""
    path = _inside(footage_dir, footage_dir / relative, "footage")
    if not path.is_file():
        raise SiteError(f"footage: {relative} is not a file in {footage_dir}")
    return path


def frame_at(footage: Path, second: float) -> np.ndarray:
    """The BGR frame at `second` (the last one, if the footage is shorter)."""
    with open_footage(footage) as video:
        wanted, picture = round(second * video.info.fps), None
        for index, picture in video.frames():
            if index >= wanted:
                break
    if picture is None:
        raise SiteError(f"{footage}: no frame could be decoded")
    return picture


def read_frame(name: str, data: bytes) -> np.ndarray:
    """An uploaded PNG or JPEG frame as BGR; anything else is refused, naming the file."""
    if not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        raise SiteError(f"{name}: not a PNG or JPEG image")
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if picture is None:
        raise SiteError(f"{name}: the image cannot be decoded")
    return picture


def frame_png(bgr: np.ndarray) -> bytes:
    _, png = cv2.imencode(".png", bgr)
    return png.tobytes()


@dataclass(frozen=True)
class PreviewVideo:
    mp4: bytes
    fps: float
    first_frame: int             # the footage frame the video starts at
    aspect: float                # height / width, the verdict panel included
    passages: tuple[str, ...]    # each lane passage's verdict and reason


def preview_video(mp4: Path, second: float, passages) -> PreviewVideo:
    """A preview written by pipeline.site_preview.render_mp4, with its passages as lines of text."""
    with open_footage(mp4) as video:
        info = video.info
    lines = tuple(f"T{p.track_id} {p.vehicle_class}, {p.first_seen:%H:%M:%S}: "
                  f"{'CONTRAVENTION' if p.is_contravention else 'no contravention'}: {p.reason}" for p in passages)
    return PreviewVideo(mp4.read_bytes(), info.fps, round(second * info.fps), info.height / info.width, lines)


def parse_start(text: str) -> datetime | None:
    """The preview's footage start, typed as an ISO time; None when empty."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise SiteError(f"footage start: {text!r} is not a time like 2026-11-21T07:00:00") from None
