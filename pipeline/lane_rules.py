"""Lane rules: did a tracked vehicle drive in the bus lane while it was in force?

A vehicle is in the lane when its ground-contact point (bottom centre of its box) is inside a lane
polygon and outside every exemption zone. It is a contravention when it stays in the lane at least
`min_seconds_in_lane`, progresses far enough along the lane's centreline (a share of its drawn length,
pixels, or metres on a calibrated site: pipeline/calibration.py), during the hours of operation, and is not of an exempt class. Vehicles that only cut
across the lane (lane changes, turning, reaching premises) fail the time or distance test.

Two things the camera cannot settle are left to an officer, behind the other cases where it is a
recording's edge: a vehicle whose class vote is not decisive is exempt by sight only when it is
(`decisive`), otherwise queued with "possibly a bus: check" (so is one that another class leads
while a bus holds a good share of its votes); a vehicle already in the lane when the
file starts, or still in it when the file ends, is judged on what was seen, and kept as a
contravention "cut by the start/end of the recording" when it fell short of the minimums only
because of the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cv2
import numpy as np

from pipeline.calibration import to_ground
from pipeline.detection import COCO_CLASSES, UNTRACKED
from pipeline.site import Hours, SiteConfig, Thresholds
from pipeline.tracks import Track


BOTTOM_MARGIN_PX = 5  # a box this close to the frame's bottom edge is cut off by it
# A vehicle is exempt by sight only when its class holds at least this share of the track's votes
# over at least this many boxes. Each box votes for its class with its confidence times its size
# (the square root of its area: the detector's class is least reliable on small, distant boxes), and
# a duplicate box of the same vehicle (see tracks.relink) votes too. Measured on the project's real
# tracks: buses 0.75-1.0 (0.75 for one seen far off for 10 s as it leaves, where it passes for a
# car); a blue box lorry 0.42 over its whole track and 0.58 over a 17-frame fragment "bus" on its
# own; a white van 0.47. A wrongly exempted lorry costs more than an officer's look at a bus.
DECISIVE_SHARE = 0.7
DECISIVE_MIN_BOXES = 5  # fewer boxes are a glimpse, not a vote
# An exempt class with this share of the votes is named to the officer even when another class
# leads: the blue box lorry's track is bus 0.50 and truck 0.50, and which of the two leads turned
# on the detector's int8 arithmetic on one CPU or another.
POSSIBLY_SHARE = 0.3
# The first and last frames of a file within this time count as its edge: the tracker needs a frame
# or two to confirm a vehicle, and the motion test a few to wake.
EDGE_SECONDS = 0.2
# A vehicle seen in the lane for less than this share of the minimum time is a glimpse at the edge
# (a rider crossing the corner of the view), not a passage worth an officer's look.
EDGE_MIN_SHARE = 0.5


class LaneGeometry:
    """The site's polygons rasterised to masks once, so per-point tests are array lookups."""

    def __init__(self, site: SiteConfig, width: int, height: int):
        self.width, self.height = width, height
        self.lane = self.mask(site.lanes)
        self.exempt = self.mask(site.exemption_zones)
        self.centreline = np.asarray(site.centreline, dtype=np.float64)
        self.lane_length = float(np.linalg.norm(np.diff(self.centreline, axis=0), axis=1).sum())  # drawn, px
        # On a calibrated site, the centreline on the road plane in metres (a polyline still).
        self.homography = site.calibration.homography() if site.calibration else None
        self.centreline_m = to_ground(self.homography, self.centreline) if self.homography is not None else None

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
        return _along(self.centreline, points)

    def progress_m(self, points: np.ndarray) -> np.ndarray:
        """The same on the road plane, in metres (calibrated sites only)."""
        return _along(self.centreline_m, to_ground(self.homography, points))


def _along(polyline: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Arc length along `polyline` to each point's nearest projection onto it."""
    a, b = polyline[:-1], polyline[1:]
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
class ClassVote:
    cls: str
    share: float  # of the track's confidence-and-size weighted votes
    boxes: int  # boxes labelled this class


def vote_weights(xyxy: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Each box's vote for its class: its confidence times its size (the square root of its area)."""
    return confidence * np.sqrt(np.prod(np.clip(xyxy[:, 2:] - xyxy[:, :2], 1, None), axis=1))


def class_votes(track: Track) -> tuple[ClassVote, ...]:
    """Every class the track's boxes were given, with its share of the vote, largest first."""
    parts = [t for t in (track, track.duplicates) if t is not None]
    cls = np.concatenate([t.class_id for t in parts])
    weights = np.bincount(cls, weights=np.concatenate([vote_weights(t.xyxy, t.confidence) for t in parts]))
    boxes = np.bincount(cls, minlength=len(weights))
    shares = weights / weights.sum()
    return tuple(ClassVote(COCO_CLASSES[int(c)], round(float(shares[c]), 3), int(boxes[c]))
                 for c in np.argsort(-shares, kind="stable") if boxes[c])


def decisive(vote: ClassVote) -> bool:
    return vote.share >= DECISIVE_SHARE and vote.boxes >= DECISIVE_MIN_BOXES


class RunningVotes:
    """Each track's class vote so far, as its boxes arrive (weighted as `class_votes` weighs them),
    so that the batch can tell which vehicles are already decisively of an exempt class while they
    drive: their plates need no reading, while a vehicle only possibly a bus must have its plate read."""

    def __init__(self) -> None:
        self._weights: dict[int, np.ndarray] = {}
        self._boxes: dict[int, np.ndarray] = {}
        self._size = max(COCO_CLASSES) + 1

    def add(self, track_ids: np.ndarray, class_ids: np.ndarray, xyxy: np.ndarray, confidence: np.ndarray) -> None:
        for tid, cls, weight in zip(track_ids.tolist(), class_ids.tolist(), vote_weights(xyxy, confidence).tolist()):
            if tid == UNTRACKED:
                continue
            if tid not in self._weights:
                self._weights[tid], self._boxes[tid] = np.zeros(self._size), np.zeros(self._size, int)
            self._weights[tid][cls] += weight
            self._boxes[tid][cls] += 1

    def decisively(self, track_id: int, classes: set[str] | frozenset[str] | list[str]) -> bool:
        """Whether the track's vote so far is decisive for one of `classes`."""
        weights = self._weights.get(track_id)
        if weights is None or not weights.sum():
            return False
        top = int(np.argmax(weights))
        return (COCO_CLASSES.get(top) in classes
                and decisive(ClassVote(COCO_CLASSES[top], weights[top] / weights.sum(), int(self._boxes[track_id][top]))))


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
    class_votes: tuple[tuple[str, float], ...] = ()  # (class, share of the vote), largest first
    # Already in the lane at the file's first frames / still in it at its last: a neighbouring
    # segment file may hold the rest of the passage.
    cut_at_start: bool = False
    cut_at_end: bool = False
    edge_cut: bool = False  # a contravention only because a recording's edge cut the passage short
    distance_m: float | None = None  # the same progress on the road plane, on a calibrated site


def vehicle_class(votes: tuple[ClassVote, ...], speed_px_s: float, rider_min_speed: float) -> str | None:
    """The winning class; a 'person' fast enough along the lane is a rider, a slower one no vehicle."""
    label = votes[0].cls
    if label == "person":
        return "motorcycle" if speed_px_s >= rider_min_speed else None
    return label


def judge(track: Track, geometry: LaneGeometry, site: SiteConfig, fps: float, start: datetime,
          file_frames: int | None = None) -> PassageDecision | None:
    """Apply the lane rules to one track; None when the vehicle never enters the lane.
    `file_frames`: the file's length in frames, to tell a passage cut by its end (None: unknown)."""
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
    distance_m = None
    if geometry.homography is not None:
        progress_m = geometry.progress_m(points[[first, last]])
        distance_m = float(progress_m[1] - progress_m[0])
    rules = site.thresholds
    min_px = rules.distance_px(geometry.lane_length)
    # The distance test in the unit its threshold was given in.
    moved, minimum = (abs(distance_m), rules.min_distance_m) if rules.min_distance_m is not None else (abs(distance), min_px)
    votes = class_votes(track)
    speed = abs(distance) / max(seconds, 1 / fps)
    cls = vehicle_class(votes, speed, rules.rider_speed_px_s(geometry.lane_length))
    if cls is None:  # a pedestrian, not a vehicle
        return None
    possibly = None
    if cls in site.exempt_classes and not decisive(votes[0]):
        # Judged as the likeliest class that is not exempt, and the officer asked to look.
        possibly, cls = cls, next((v.cls for v in votes if v.cls not in site.exempt_classes and v.cls != "person"), cls)
    elif cls not in site.exempt_classes:
        possibly = next((v.cls for v in votes if v.cls in site.exempt_classes and v.share >= POSSIBLY_SHARE), None)
    first_seen = start + timedelta(seconds=frames[first] / fps)
    last_seen = start + timedelta(seconds=frames[last] / fps)
    in_force = enforcement_window(site.hours, first_seen.astimezone(site.tz))
    # Cut by an edge: in the lane from the track's first box at the file's start, or to its last at the end.
    edge = EDGE_SECONDS * fps
    cut_at_start = bool(first == 0 and frames[first] <= edge)
    cut_at_end = bool(file_frames is not None and last == len(frames) - 1 and frames[last] >= file_frames - 1 - edge)
    short = seconds < rules.min_seconds_in_lane or moved < minimum
    # Short only because of the edge: it moved along the lane at least at the pace the minimums ask
    # for (a parked or queueing vehicle did not), so had the recording gone on it would have met them.
    pace = moved / max(seconds, 1 / fps)
    edge_cut = (short and (cut_at_start or cut_at_end) and seconds >= EDGE_MIN_SHARE * rules.min_seconds_in_lane
                and pace >= minimum / max(rules.min_seconds_in_lane, 1 / fps))
    far = distance_text(distance, distance_m)

    if possibly is None and cls in site.exempt_classes:
        reason = f"{cls}: exempt by sight"
    elif not counted.any():
        reason = "in the lane only within an exemption zone (turning or access)"
    elif seconds < rules.min_seconds_in_lane and not edge_cut:
        reason = f"in the lane {seconds:.1f} s, under the {rules.min_seconds_in_lane:g} s minimum"
    elif moved < minimum and not edge_cut:
        reason = f"moved {far} along the lane, under {_distance_rule(rules, min_px)}"
    elif in_force is None:
        reason = f"outside the hours of operation ({first_seen.astimezone(site.tz):%a %H:%M})"
    else:
        reason = None
    contravention = reason is None
    edge_cut = bool(contravention and edge_cut)
    if edge_cut:
        edges = " and the ".join(name for name, cut in (("start", cut_at_start), ("end", cut_at_end)) if cut)
        least = f"{rules.min_distance_m:g} m" if rules.min_distance_m is not None else f"{min_px:.0f} px"
        reason = (f"cut by the {edges} of the recording: in the lane {seconds:.1f} s and {far} "
                  f"along it while in force ({in_force}), at a pace that would have met the "
                  f"{rules.min_seconds_in_lane:g} s and {least} minimums")
    elif contravention:
        direction = "" if distance > 0 else " against the direction of travel"
        if distance_m is None:
            reason = f"drove {far} along the lane{direction} for {seconds:.1f} s while in force ({in_force})"
        else:
            reason = f"drove {far} along the bus lane{direction} in {seconds:.1f} s while in force ({in_force})"
    if possibly is not None:
        reason = f"possibly a {possibly}: check; {reason}"
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
        class_votes=tuple((v.cls, v.share) for v in votes),
        cut_at_start=cut_at_start,
        cut_at_end=cut_at_end,
        edge_cut=edge_cut,
        distance_m=None if distance_m is None else round(distance_m, 2),
    )


def distance_text(distance_px: float, distance_m: float | None) -> str:
    """'300 px' uncalibrated; '42 m' (or '4.2 m' under ten metres) on a calibrated site."""
    if distance_m is None:
        return f"{abs(distance_px):.0f} px"
    return f"{abs(distance_m):.1f} m" if abs(distance_m) < 10 else f"{abs(distance_m):.0f} m"


def _distance_rule(rules: Thresholds, min_px: float) -> str:
    if rules.min_distance_m is not None:
        return f"the {rules.min_distance_m:g} m minimum"
    if rules.min_distance_px is not None:
        return f"the {rules.min_distance_px:g} px minimum"
    return f"the minimum of {rules.min_distance_share:.0%} of the lane ({min_px:.0f} px)"
