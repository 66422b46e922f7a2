"""Collect a file's per-frame detections into whole tracks (one per tracked vehicle), and join the
pieces the tracker made of one vehicle back into one track (`relink`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from pipeline.detection import Detections

# Re-linking (see `relink`). A vehicle hidden this long (a pole, a bus in front) is still looked for.
MAX_GAP_SECONDS = 1.0
# Where the first piece, carried on at its last speed, would be when the second starts: at most this
# far from the second's first box, in units of the box's size (the square root of its area).
MAX_MISS_SIZES = 0.6
MAX_SIZE_RATIO = 1.5  # the two pieces' boxes at the join differ in size by at most this factor
VELOCITY_SECONDS = 0.5  # the last speed is measured over the piece's last half second
# Two pieces seen in the same frames are one vehicle when their boxes coincide there (mean IoU). The
# detector's non-maximum suppression is per class, so a lorry can get a "bus" and a "truck" box at
# once, which the tracker follows as two tracks; on the project's clips such duplicates coincide at
# 0.83-0.98 mean IoU, while distinct vehicles overlapping each other stay under 0.7.
DUPLICATE_MIN_IOU = 0.8
# The detector also boxes one rider twice as a person, once with the scooter and once without
# (same class, so NMS at IoU 0.7 keeps both): nested boxes at 0.6-0.87 IoU (Shenzhen at twice its
# size, mean 0.70). Same-class pieces whose smaller box lies almost wholly inside the other in every
# shared frame are one vehicle too: a vehicle wholly inside another's box would be hidden by it.
NESTED_MIN_IOU = 0.55
NESTED_MIN_COVER = 0.9  # mean share of the smaller box inside the larger


@dataclass(frozen=True)
class Track:
    """Every observation of one tracked vehicle, in frame order (one per frame)."""

    track_id: int
    frames: np.ndarray  # (n,) int frame indices
    xyxy: np.ndarray  # (n, 4)
    class_id: np.ndarray  # (n,)
    confidence: np.ndarray  # (n,)
    pieces: tuple[int, ...] = ()  # the tracker's ids re-linked into this track, its own first; () = only its own
    # Boxes of this vehicle in frames the track already has a box for (a duplicate piece's, see
    # `relink`): not part of the track, but the class vote counts them.
    duplicates: Track | None = field(default=None, repr=False)

    @property
    def ground_points(self) -> np.ndarray:
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    def to_json(self) -> str:
        """Frames and whole-pixel boxes, as stored with each lane passage."""
        return json.dumps({"frames": self.frames.tolist(), "xyxy": np.round(self.xyxy).astype(int).tolist()})


class TrackBuilder:
    """Append each frame's Detections; `tracks()` groups them by track id, vectorised."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, Detections]] = []

    def add(self, frame_index: int, detections: Detections) -> None:
        if len(detections):
            self._parts.append((np.full(len(detections), frame_index), detections))

    def tracks(self) -> list[Track]:
        if not self._parts:
            return []
        frames = np.concatenate([f for f, _ in self._parts])
        dets = [d for _, d in self._parts]
        ids = np.concatenate([d.track_id for d in dets])
        xyxy, cls, conf = (np.concatenate([getattr(d, a) for d in dets]) for a in ("xyxy", "class_id", "confidence"))
        order = np.lexsort((frames, ids))
        ids, frames, xyxy, cls, conf = ids[order], frames[order], xyxy[order], cls[order], conf[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        bounds = zip(starts, np.r_[starts[1:], len(ids)])
        return [Track(int(ids[a]), frames[a:b], xyxy[a:b], cls[a:b], conf[a:b]) for a, b in bounds]


def _area(xyxy: np.ndarray) -> np.ndarray:
    return (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    wh = np.clip(np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0, None)
    return wh[:, 0] * wh[:, 1]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of corresponding rows of two (n, 4) xyxy arrays."""
    inter = _intersection(a, b)
    return inter / np.maximum(_area(a) + _area(b) - inter, 1e-9)


def box_cover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of the smaller of corresponding rows' boxes that lies inside the other."""
    return _intersection(a, b) / np.maximum(np.minimum(_area(a), _area(b)), 1e-9)


def same_vehicle(a: list[Track], b: list[Track]) -> bool | None:
    """Whether two groups of pieces box one vehicle in the frames both saw: coinciding boxes
    (DUPLICATE_MIN_IOU), or nested boxes of one class (NESTED_*); None when they share no frame."""
    fa, xa = np.concatenate([t.frames for t in a]), np.concatenate([t.xyxy for t in a])
    fb, xb = np.concatenate([t.frames for t in b]), np.concatenate([t.xyxy for t in b])
    _, ia, ib = np.intersect1d(fa, fb, return_indices=True)
    if not len(ia):
        return None
    iou = float(box_iou(xa[ia], xb[ib]).mean())
    if iou >= DUPLICATE_MIN_IOU:
        return True
    return (iou >= NESTED_MIN_IOU and float(box_cover(xa[ia], xb[ib]).mean()) >= NESTED_MIN_COVER
            and _main_class(a) == _main_class(b))


def _main_class(pieces: list[Track]) -> int:
    return int(np.bincount(np.concatenate([t.class_id for t in pieces]).astype(int)).argmax())


def relink(tracks: list[Track], fps: float) -> list[Track]:
    """Join the pieces the tracker made of one vehicle: one piece ends and another starts within
    MAX_GAP_SECONDS where the first, carried on at its last velocity, would be and at a similar size
    (the vehicle was hidden for a moment); or two pieces box the same vehicle in the same frames.
    Each joined track keeps the id of its earliest piece and, where pieces share a frame, that
    piece's box. Candidate pairs are found and tested as arrays; only duplicates' shared frames
    are compared one pair at a time."""
    if len(tracks) < 2:
        return tracks
    tracks = sorted(tracks, key=lambda t: (int(t.frames[0]), t.track_id))
    start = np.array([t.frames[0] for t in tracks])
    end = np.array([t.frames[-1] for t in tracks])
    centre = lambda xyxy: (xyxy[..., :2] + xyxy[..., 2:]) / 2  # noqa: E731
    size = lambda xyxy: np.sqrt(np.prod(np.clip(xyxy[..., 2:] - xyxy[..., :2], 1, None), axis=-1))  # noqa: E731
    first_box = np.stack([t.xyxy[0] for t in tracks])
    last_box = np.stack([t.xyxy[-1] for t in tracks])
    # Velocity over the last VELOCITY_SECONDS of each piece (zero for a single observation).
    back = [np.searchsorted(t.frames, t.frames[-1] - VELOCITY_SECONDS * fps) for t in tracks]
    earlier = np.stack([t.xyxy[min(k, len(t.frames) - 1)] for t, k in zip(tracks, back)])
    span = np.maximum(end - np.array([t.frames[min(k, len(t.frames) - 1)] for t, k in zip(tracks, back)]), 1)
    velocity = (centre(last_box) - centre(earlier)) / span[:, None]

    # Pairs (i, j): j starts no earlier than i and at most MAX_GAP_SECONDS after i ends.
    hi = np.searchsorted(start, end + MAX_GAP_SECONDS * fps, side="right")
    counts = np.maximum(hi - np.arange(len(tracks)) - 1, 0)
    i = np.repeat(np.arange(len(tracks)), counts)
    j = i + 1 + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    gap = start[j] - end[i]
    # Gap pairs: the constant-velocity prediction lands on j's first box.
    predicted = centre(last_box[i]) + velocity[i] * gap[:, None]
    miss = np.linalg.norm(predicted - centre(first_box[j]), axis=1) / size(last_box[i])
    ratio = size(first_box[j]) / size(last_box[i])
    close = (gap > 0) & (miss <= MAX_MISS_SIZES) & (ratio <= MAX_SIZE_RATIO) & (ratio >= 1 / MAX_SIZE_RATIO)
    # Overlapping pairs: duplicates wherever both were seen. Only pairs whose boxes overlap at i's
    # first frame from j's start on (looked up for all pairs at once) are compared in full.
    overlapping = np.flatnonzero(gap <= 0)
    lengths = np.array([len(t.frames) for t in tracks])
    flat_boxes = np.concatenate([t.xyxy for t in tracks])
    flat_frames = np.concatenate([t.frames for t in tracks])
    stride = int(end.max()) + 1
    keys = np.repeat(np.arange(len(tracks)), lengths) * stride + flat_frames  # sorted: by track, then frame

    def row_from(k: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """Row in the flat arrays of track k's first box at or after `frame` (else its last)."""
        return np.minimum(np.searchsorted(keys, k * stride + frame), np.cumsum(lengths)[k] - 1)

    at_i = row_from(i[overlapping], start[j[overlapping]])
    at_j = row_from(j[overlapping], flat_frames[at_i])
    overlapping = overlapping[box_iou(flat_boxes[at_i], flat_boxes[at_j]) >= DUPLICATE_MIN_IOU / 2]
    duplicate = np.array([same_vehicle([tracks[i[k]]], [tracks[j[k]]]) is True for k in overlapping], bool)
    cost = np.where(close, miss, np.inf)
    cost[overlapping[duplicate]] = -1.0  # duplicates first: they are the surest joins

    # Greedy, cheapest join first; a join must not put two different vehicles in one track.
    group = list(range(len(tracks)))
    members = {k: [k] for k in range(len(tracks))}

    def root(k: int) -> int:
        while group[k] != k:
            k = group[k]
        return k

    for k in np.argsort(cost, kind="stable"):
        if not np.isfinite(cost[k]):
            break
        a, b = root(i[k]), root(j[k])
        if a == b:
            continue
        same = same_vehicle([tracks[m] for m in members[a]], [tracks[m] for m in members[b]])
        apart = max(start[members[a]].min(), start[members[b]].min()) > min(end[members[a]].max(), end[members[b]].max())
        # Seen at once but apart, or in turns over the same time (never in the same frame): two vehicles.
        if same is False or (same is None and not apart):
            continue
        a, b = min(a, b), max(a, b)  # the earliest piece leads
        group[b] = a
        members[a] += members.pop(b)
    return [_join([tracks[m] for m in sorted(ms)]) for ms in members.values()]


def _join(pieces: list[Track]) -> Track:
    """One track from pieces in start order; a frame seen by several keeps the earliest piece's box
    and the others go to `duplicates`."""
    if len(pieces) == 1:
        return pieces[0]
    frames = np.concatenate([t.frames for t in pieces])
    order = np.argsort(frames, kind="stable")  # stable: within a frame, pieces stay in start order
    first = np.r_[True, np.diff(frames[order]) != 0]
    ids = tuple(p for t in pieces for p in (t.pieces or (t.track_id,)))

    def rows(keep: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(np.concatenate([getattr(t, name) for t in pieces])[keep]
                     for name in ("frames", "xyxy", "class_id", "confidence"))

    duplicates = Track(pieces[0].track_id, *rows(order[~first])) if not first.all() else None
    return Track(pieces[0].track_id, *rows(order[first]), pieces=ids, duplicates=duplicates)
