"""Lane rules: did a tracked vehicle drive in the bus lane while it was in force?

A vehicle is in the lane when its ground-contact point (bottom centre of its box) is inside a lane
polygon and outside every exemption zone. It is a contravention when it stays in the lane at least
`min_seconds_in_lane`, progresses at least `min_distance_px` along the lane's centreline, during the
hours of operation, and is not of an exempt class. Vehicles that only cut across the lane (lane
changes, turning, reaching premises) fail the time or distance test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cv2
import numpy as np

from pipeline.detection import COCO_CLASSES
from pipeline.site import Hours, SiteConfig
from pipeline.tracks import Track


BOTTOM_MARGIN_PX = 5  # a box this close to the frame's bottom edge is cut off by it


class LaneGeometry:
    """The site's polygons rasterised to masks once, so per-point tests are array lookups."""

    def __init__(self, site: SiteConfig, width: int, height: int):
        self.width, self.height = width, height
        self.lane = self.mask(site.lanes)
        self.exempt = self.mask(site.exemption_zones)
        self.centreline = np.asarray(site.centreline, dtype=np.float64)

    def mask(self, polygons) -> np.ndarray:
        """Boolean frame-sized mask of the union of polygons."""
        mask = np.zeros((self.height, self.width), np.uint8)
        for polygon in polygons:
            cv2.fillPoly(mask, [np.round(np.asarray(polygon)).astype(np.int32)], 1)
        return mask.astype(bool)

    def lookup(self, mask: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Whether each (x, y) point falls in the mask."""
        x = np.clip(points[:, 0].astype(int), 0, self.width - 1)
        y = np.clip(points[:, 1].astype(int), 0, self.height - 1)
        return mask[y, x]

    def in_lane(self, points: np.ndarray) -> np.ndarray:
        return self.lookup(self.lane, points)

    def in_exemption_zone(self, points: np.ndarray) -> np.ndarray:
        return self.lookup(self.exempt, points)

    def progress(self, points: np.ndarray) -> np.ndarray:
        """Distance along the centreline (pixels) of each point's nearest projection onto it."""
        a, b = self.centreline[:-1], self.centreline[1:]
        seg = b - a
        seg_len = np.linalg.norm(seg, axis=1)
        rel = points[:, None, :] - a[None]  # (n, segments, 2)
        t = np.clip((rel * seg[None]).sum(-1) / seg_len**2, 0, 1)
        dist = np.linalg.norm(rel - t[..., None] * seg[None], axis=-1)
        nearest = dist.argmin(axis=1)
        offsets = np.r_[0, np.cumsum(seg_len)[:-1]]
        rows = np.arange(len(points))
        return offsets[nearest] + t[rows, nearest] * seg_len[nearest]


def enforcement_window(hours: Hours, local: datetime) -> str | None:
    """Describe the window in force at a local time, or None when the lane is not enforced.

    >>> from pipeline.site import Hours
    >>> h = Hours(windows={"mon-fri": ["07:00-10:00"]})
    >>> enforcement_window(h, datetime(2026, 11, 23, 8, 30))
    'Mon 07:00-10:00'
    >>> enforcement_window(h, datetime(2026, 11, 22, 8, 30)) is None   # a Sunday
    True
    """
    day = local.date()
    if day in hours.no_enforcement:
        return None
    if hours.at_any_time:
        return "at any time"
    weekday = 6 if day in hours.treat_as_sunday else local.weekday()
    for window in hours.windows_on(weekday):
        if window.contains(local.time()):
            return f"{local:%a} {window}"
    return None


@dataclass(frozen=True)
class PassageDecision:
    """What the rules concluded about one vehicle that entered the lane."""

    track_id: int
    vehicle_class: str
    first_frame: int  # first and last frame the vehicle was counted in the lane
    last_frame: int
    frames_in_lane: int
    seconds_in_lane: float
    distance_px: float  # progress along the centreline while in the lane; negative = wrong way
    first_seen: datetime
    last_seen: datetime
    in_force: str | None  # the window in force, e.g. "Fri 12:00-19:00"
    is_contravention: bool
    reason: str
    box: tuple[float, float, float, float]  # the vehicle's box at first_frame
    track: Track = field(repr=False, compare=False)  # every observation, for evidence and plates


def vehicle_class(track: Track, speed_px_s: float, rider_min_speed: float) -> str | None:
    """Confidence-weighted class vote; a 'person' fast enough along the lane is a rider."""
    votes = np.bincount(track.class_id, weights=track.confidence, minlength=8)
    label = COCO_CLASSES[int(votes.argmax())]
    if label == "person":
        return "motorcycle" if speed_px_s >= rider_min_speed else None
    return label


def judge(track: Track, geometry: LaneGeometry, site: SiteConfig, fps: float, start: datetime) -> PassageDecision | None:
    """Apply the lane rules to one track; None when the vehicle never enters the lane."""
    points = track.ground_points
    # A box cut by the bottom of the frame hides where the vehicle meets the road.
    visible = track.xyxy[:, 3] < geometry.height - BOTTOM_MARGIN_PX
    in_lane = geometry.in_lane(points) & visible
    if not in_lane.any():
        return None
    counted = in_lane & ~geometry.in_exemption_zone(points)
    rows = np.flatnonzero(counted if counted.any() else in_lane)
    first, last = rows[0], rows[-1]
    frames = track.frames
    seconds = (frames[last] - frames[first] + 1) / fps
    progress = geometry.progress(points[[first, last]])
    distance = float(progress[1] - progress[0])
    rules = site.thresholds
    cls = vehicle_class(track, abs(distance) / max(seconds, 1 / fps), rules.rider_min_speed_px_s)
    if cls is None:  # a pedestrian, not a vehicle
        return None
    first_seen = start + timedelta(seconds=frames[first] / fps)
    last_seen = start + timedelta(seconds=frames[last] / fps)
    in_force = enforcement_window(site.hours, first_seen.astimezone(site.tz))

    if cls in site.exempt_classes:
        reason = f"{cls}: exempt by sight"
    elif not counted.any():
        reason = "in the lane only within an exemption zone (turning or access)"
    elif seconds < rules.min_seconds_in_lane:
        reason = f"in the lane {seconds:.1f} s, under the {rules.min_seconds_in_lane:g} s minimum"
    elif abs(distance) < rules.min_distance_px:
        reason = f"moved {abs(distance):.0f} px along the lane, under the {rules.min_distance_px:g} px minimum"
    elif in_force is None:
        reason = f"outside the hours of operation ({first_seen.astimezone(site.tz):%a %H:%M})"
    else:
        reason = None
    contravention = reason is None
    if contravention:
        direction = "" if distance > 0 else " against the direction of travel"
        reason = f"drove {abs(distance):.0f} px along the lane{direction} for {seconds:.1f} s while in force ({in_force})"
    return PassageDecision(
        track_id=track.track_id,
        vehicle_class=cls,
        first_frame=int(frames[first]),
        last_frame=int(frames[last]),
        frames_in_lane=int(counted.sum() or in_lane.sum()),
        seconds_in_lane=round(float(seconds), 2),
        distance_px=round(distance, 1),
        first_seen=first_seen,
        last_seen=last_seen,
        in_force=in_force,
        is_contravention=contravention,
        reason=reason,
        box=tuple(float(v) for v in track.xyxy[first]),
        track=track,
    )
