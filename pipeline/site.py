"""Camera site configuration: one YAML file per camera, validated before any footage is read.

>>> site = load_site("sites/shenzhen_buslane.yaml")  # doctest: +SKIP
>>> site.camera_id
'SZ-BUSLANE-01'
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely
from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, FiniteFloat, PositiveInt, field_validator, model_validator,
)

from pipeline.calibration import homography, rectangle, same_side
from pipeline.yaml_settings import load_settings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
VEHICLE_CLASSES = ("car", "motorcycle", "bus", "truck", "bicycle")


class SiteConfigError(ValueError):
    """A site file is unreadable or invalid; the message names the file and each bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Point = tuple[FiniteFloat, FiniteFloat]  # inf or nan would make every mask empty or full


def _polygon(points: list[Point]) -> list[Point]:
    if len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(points)}")
    # A self-intersecting outline has no one inside: the masks drawn from it would depend on the fill rule.
    polygon = shapely.Polygon(points)
    if not polygon.is_valid:
        raise ValueError(f"the polygon is not simple: {shapely.is_valid_reason(polygon)}")
    return points


Polygon = Annotated[list[Point], AfterValidator(_polygon), Field(description="pixel (x, y) vertices")]


class TimeWindow(_Strict):
    """An enforcement window within one day, written "07:00-10:00"."""

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value):
        if isinstance(value, str):
            m = re.fullmatch(r"\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", value)
            if not m:
                raise ValueError(f"{value!r} is not a window like '07:00-10:00'")
            return {"start": m[1], "end": m[2]}
        return value

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end:%H:%M}) before it starts ({self.start:%H:%M})")
        return self

    def contains(self, t: time) -> bool:
        return self.start <= t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class Hours(_Strict):
    """When the lane is enforced: `at_any_time`, or windows per weekday ("mon-fri", "sat", …)."""

    at_any_time: bool = False
    windows: dict[str, list[TimeWindow]] = {}
    treat_as_sunday: list[date] = []  # bank holidays
    no_enforcement: list[date] = []

    @field_validator("windows", mode="before")
    @classmethod
    def _days(cls, windows):
        for key in windows or {}:
            expand_days(str(key))
        return windows

    @model_validator(mode="after")
    def _something(self):
        if not self.at_any_time and not self.windows:
            raise ValueError("give either at_any_time: true or at least one window")
        return self

    def windows_on(self, weekday: int) -> list[TimeWindow]:
        return [w for key, ws in self.windows.items() if weekday in expand_days(key) for w in ws]


def expand_days(key: str) -> list[int]:
    """'mon-fri' -> [0, 1, 2, 3, 4]; 'sat' -> [5]; 'mon,wed' -> [0, 2]."""
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in WEEKDAYS for e in ends):
            raise ValueError(f"unknown weekday {part!r} (use {', '.join(WEEKDAYS)} or a range like mon-fri)")
        a, b = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if b < a:
            raise ValueError(f"weekday range {part!r} runs backwards")
        days += range(a, b + 1)
    return days


class Thresholds(_Strict):
    """How long and how far a vehicle must drive in the lane. Distances and speeds are shares of the
    centreline's drawn length by default, so the same numbers hold at any resolution; a pixel value,
    where given, is used instead."""

    min_seconds_in_lane: float = Field(2.0, ge=0)
    # 0.15 keeps every labelled verdict on the Shenzhen clip (riders move 24-32% of the bus lane,
    # cars 76-95% of the general lane) and is 59 and 49 px there, next to the 60 px used before.
    min_distance_share: float = Field(
        0.15, ge=0, le=1, description="progress along the centreline, as a share of its drawn length"
    )
    min_distance_px: float | None = Field(None, ge=0, description="progress along the centreline in pixels, if set")
    min_distance_m: float | None = Field(
        None, ge=0, description="progress along the lane in metres, if set (needs a calibration); used before the others"
    )
    # 30 px/s on the Shenzhen bus lane (396 px long); riders there move at 0.11-0.16 lane lengths a second.
    rider_min_speed_share_s: float = Field(
        0.075, ge=0, description="a 'person' moving along the lane at least this many lane lengths a second is a rider"
    )
    rider_min_speed_px_s: float | None = Field(None, ge=0, description="the same in pixels per second, if set")

    def distance_px(self, lane_length_px: float) -> float:
        """The minimum progress along the lane, in pixels, on a centreline this long."""
        return self.min_distance_px if self.min_distance_px is not None else self.min_distance_share * lane_length_px

    def rider_speed_px_s(self, lane_length_px: float) -> float:
        return (self.rider_min_speed_px_s if self.rider_min_speed_px_s is not None
                else self.rider_min_speed_share_s * lane_length_px)


class Calibration(_Strict):
    """A ground-plane homography from four points clicked on a frame (pipeline/calibration.py), so
    distances along the lane are in metres. `method: points`: `image` pixels and their `ground`
    coordinates in metres on the road. `method: lane_marking`: `image` is the near and far ends of a
    stretch of lane line of known length (one dash, or better a run of dashes and gaps), then the points
    across the lane level with the far end and the near end; the road coordinates follow from
    `lane_width_m` and `marking_length_m`."""

    method: Literal["points", "lane_marking"]
    image: list[Point] = Field(min_length=4, description="pixel (x, y) points clicked on a frame")
    ground: list[Point] | None = Field(None, description="road (x, y) in metres, for method: points")
    lane_width_m: float | None = Field(None, gt=0, description="lane edge to lane edge, for method: lane_marking")
    marking_length_m: float | None = Field(
        None, gt=0, description="lane line from the first click to the second, for method: lane_marking")
    note: str = Field("", description="how the measurements were taken, quoted in the evidence")

    @model_validator(mode="after")
    def _complete(self):
        if self.method == "points":
            if self.ground is None or self.lane_width_m is not None or self.marking_length_m is not None:
                raise ValueError("method: points takes ground (metres, one per image point), not lane_width_m/marking_length_m")
        else:
            if self.lane_width_m is None or self.marking_length_m is None or self.ground is not None:
                raise ValueError("method: lane_marking takes lane_width_m and marking_length_m, not ground")
            if len(self.image) != 4:
                raise ValueError(f"method: lane_marking takes exactly 4 image points, got {len(self.image)}")
        self.homography()  # raises ValueError naming what is wrong with the points
        return self

    def ground_points(self) -> list[tuple[float, float]]:
        return list(self.ground) if self.ground is not None else rectangle(self.lane_width_m, self.marking_length_m)

    def homography(self):
        """3x3 array taking image pixels to road metres."""
        return homography(self.image, self.ground_points())

    def describe(self) -> str:
        """How the calibration was made, in a sentence for the case page, the evidence and the pack."""
        if self.method == "lane_marking":
            text = (f"ground-plane homography from the lane's width ({self.lane_width_m:g} m) and "
                    f"{self.marking_length_m:g} m of lane marking, clicked at image points "
                    + ", ".join(f"({x:g}, {y:g})" for x, y in self.image))
        else:
            text = (f"ground-plane homography from {len(self.image)} road points of known position: "
                    + "; ".join(f"({x:g}, {y:g}) px = ({gx:g}, {gy:g}) m"
                                for (x, y), (gx, gy) in zip(self.image, self.ground)))
        return f"{text}{f' ({self.note})' if self.note else ''}"


class StartTime(_Strict):
    """How a footage file's start time is found (``--start`` on the command line overrides all)."""

    source: Literal["filename", "sidecar", "cli"] = "cli"
    pattern: str | None = Field(None, description="regex with a group named ts, for source: filename")
    format: str | None = Field(None, description="strptime format of the ts group")
    # Recorders split a night into files; a vehicle across the boundary is one passage (pipeline/segments.py).
    segment_gap_s: float = Field(
        2.0, ge=0, description="files of this camera whose times abut within this many seconds are one recording"
    )

    @field_validator("pattern")
    @classmethod
    def _regex(cls, pattern: str | None):
        if pattern is None:
            return pattern
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"not a valid regular expression: {e}") from None
        if "ts" not in compiled.groupindex:
            raise ValueError("pattern needs a named group (?P<ts>...)")
        return pattern

    @model_validator(mode="after")
    def _needs_pattern(self):
        if self.source == "filename" and not (self.pattern and self.format):
            raise ValueError("source: filename needs both pattern and format")
        return self


class Detection(_Strict):
    # A name in models/manifest.yaml (vehicle_detector, the same as vehicle_detector_yolo11n, or
    # vehicle_detector_yolo26n) or a path.
    model: str = "vehicle_detector"
    confidence: float = Field(0.1, gt=0, lt=1)  # low: ByteTrack's second stage uses weak boxes
    tracker: str = Field(
        "buslane_bytetrack.yaml",
        description="ByteTrack settings: buslane_bytetrack.yaml (the project's), bytetrack.yaml (ultralytics' own) or a path",
    )
    imgsz: int = 640
    parallel_inferences: int = Field(
        2, ge=1, description="inferences run side by side, one core each (an OpenVINO model; others run one at a time)"
    )


class Plates(_Strict):
    """Plate reading on the frames where a vehicle is in the lane (the frames evidence will use)."""

    enabled: bool = True
    detector: str = "plate_detector"  # names in models/manifest.yaml, or paths
    ocr: str = "plate_ocr"
    ocr_config: str = "plate_ocr_config"
    every_k_frames: int = Field(2, ge=1, description="frames between two reads of one vehicle")
    max_reads_per_vehicle: int = Field(15, ge=1, description="reads kept per vehicle, enough to vote")


MIN_REGION_MARGIN_PX = 48  # the margin every camera had before it scaled with the frame


class Processing(_Strict):
    """How much work the batch may skip. Each setting trades a little safety margin for speed;
    the README's processing settings table says what each buys on the benchmark clips."""

    lane_region: bool = Field(True, description="detect on the lane's surroundings only, not the whole frame")
    # The detector needs context around a vehicle in proportion to the picture: with 48 px on a 1280x720
    # camera (tiled at 0.47x), a faint car at the lane's far end, 45 px inside the region's edge, scored
    # 0.08 on average and was found late; with 96 px, 0.40. Smaller frames keep 48 px (enlarged, that is
    # more context): 24 px on a half-size copy of Shenzhen lost a bus's class (docs/benchmarks.md).
    region_margin_share: float = Field(
        0.075, ge=0, le=1, description="kept around the lane and exemption zones, as a share of the frame's "
        f"longest side, at least {MIN_REGION_MARGIN_PX} px (96 px at 1280 px)"
    )
    region_margin_px: int | None = Field(None, ge=0, description="the same in pixels, if set")
    min_region_scale: float = Field(
        0.75, gt=0, le=1, description="tile several frames into one model input while each keeps at least "
        "this fraction of the resolution a whole-frame pass would give it"
    )
    contrast_floor: int = Field(
        100, ge=0, le=255, description="the lane's surroundings are stretched to span at least this many grey "
        "levels (1st to 99th percentile), at most 3x, before detection: dusk, fog or a dirty lens leave a flat "
        "picture the detector misses vehicles in (daylight spans 170-240); 0: never"
    )
    motion_gate: bool = Field(True, description="skip detection while nothing moves in and around the lane")
    motion_threshold: int = Field(25, ge=1, le=255, description="grey-level change that counts as movement "
                                  "in daylight contrast (lower in a dimmer, flatter scene: pipeline/motion.py)")
    motion_min_area_px: int = Field(120, ge=1, description="changed full-resolution pixels that count as motion")
    overlap_detection: bool = Field(
        True, description="run the detector on the next frames while the previous ones are tracked and read"
    )
    idle_skip_decoding: bool = Field(
        True, description="while nothing has moved for a second, decode only the frames other frames depend on "
        "(footage with B-frames; the motion test then sees every second to fourth frame)"
    )
    idle_stride: int = Field(
        5, ge=1, description="while something moves but no vehicle is near the lane, detect every k-th frame"
    )
    near_lane_px: int = Field(80, ge=0, description="how close to the lane a tracked vehicle counts as near it")
    near_stride: int = Field(
        1, ge=1, description="while a vehicle is near or in the lane, detect every k-th frame (2 loses small riders)"
    )

    def region_margin(self, frame_w: int, frame_h: int) -> int:
        """Pixels kept around the lane and exemption zones on a frame of this size."""
        if self.region_margin_px is not None:
            return self.region_margin_px
        return max(MIN_REGION_MARGIN_PX, round(self.region_margin_share * max(frame_w, frame_h)))


class SiteConfig(_Strict):
    camera_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    location: str = Field(min_length=1)
    timezone: str = "Europe/London"
    lanes: list[Polygon] = Field(min_length=1)
    centreline: list[Point] = Field(min_length=2, description="lane axis in the direction of travel")
    # The zones are pixels of one frame size: footage of another size (the camera re-configured, or
    # another camera's files) would put them elsewhere on the road. The Sites page writes it.
    frame_size: tuple[PositiveInt, PositiveInt] | None = Field(
        None, description="width and height of the frames the zones were drawn on; footage of any other size is refused")
    hours: Hours
    exemption_zones: list[Polygon] = []
    # Burned-in overlays (the clock, the camera name) that change on their own: never "motion".
    ignore_zones: list[Polygon] = []
    exempt_classes: list[str] = ["bus"]
    thresholds: Thresholds = Thresholds()
    start_time: StartTime = StartTime()
    detection: Detection = Detection()
    plates: Plates = Plates()
    processing: Processing = Processing()
    calibration: Calibration | None = None

    @model_validator(mode="after")
    def _calibrated(self):
        if self.calibration is None:
            if self.thresholds.min_distance_m is not None:
                raise ValueError("thresholds.min_distance_m needs a calibration block (metres are unknown without one)")
            return self
        # A zone beyond the horizon has no place on the road plane: the metres would be nonsense.
        h, clicked = self.calibration.homography(), self.calibration.image
        for name, points in [("centreline", self.centreline)] + [(f"lanes.{i}", p) for i, p in enumerate(self.lanes)]:
            if not same_side(h, clicked, points):
                raise ValueError(f"calibration: {name} reaches beyond the horizon the calibration points imply")
        return self

    @field_validator("centreline")
    @classmethod
    def _distinct(cls, points: list[Point]):
        # Progress is measured along the segments: a repeated point makes a segment of no length.
        repeated = sorted({p for p in points if points.count(p) > 1})
        if repeated:
            raise ValueError(f"centreline points must be distinct; {', '.join(f'({x:g}, {y:g})' for x, y in repeated)} repeated")
        return points

    @field_validator("timezone")
    @classmethod
    def _tz(cls, tz: str):
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {tz!r}") from None
        return tz

    @field_validator("exempt_classes")
    @classmethod
    def _classes(cls, classes: list[str]):
        unknown = set(classes) - set(VEHICLE_CLASSES)
        if unknown:
            raise ValueError(f"unknown vehicle class {sorted(unknown)} (known: {', '.join(VEHICLE_CLASSES)})")
        return classes

    def drawn_on_other_size(self, width: int, height: int) -> str | None:
        """The frame size the zones were drawn on ("640x360") when it is not width x height; None when
        it is, or when the site does not say."""
        if self.frame_size is None or self.frame_size == (width, height):
            return None
        return "x".join(map(str, self.frame_size))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def model_settings(self) -> dict[str, str]:
        """Each model the batch loads for this site, by its field (plate models only when plates are read)."""
        settings = {"detection.model": self.detection.model}
        if self.plates.enabled:
            p = self.plates
            settings |= {"plates.detector": p.detector, "plates.ocr": p.ocr, "plates.ocr_config": p.ocr_config}
        return settings


def load_site(path: str | Path) -> SiteConfig:
    """Read and validate a site file; errors name the file and each bad field."""
    return load_settings(path, SiteConfig, SiteConfigError, "site config")
