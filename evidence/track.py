"""The tracked vehicle's boxes, as stored with its lane passage, looked up by frame number.

>>> boxes = TrackBoxes.from_json('{"frames": [10, 12], "xyxy": [[1, 2, 30, 40], [3, 4, 33, 44]]}')
>>> boxes.at(11)
Observation(frame=11, box=(1, 2, 30, 40), observed=False)
>>> boxes.at(9) is None  # before the track starts nothing is drawn
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Observation:
    frame: int
    box: Box
    observed: bool  # False: held from the nearest frame the detector saw the vehicle in


class TrackBoxes:
    def __init__(self, frames: np.ndarray, xyxy: np.ndarray):
        if not len(frames) or len(frames) != len(xyxy):
            raise ValueError("a track needs one box per frame and at least one frame")
        self.frames = np.asarray(frames, np.int64)
        self.xyxy = np.round(np.asarray(xyxy, np.float64)).astype(np.int64)

    @classmethod
    def from_json(cls, text: str) -> TrackBoxes:
        data = json.loads(text)
        return cls(np.asarray(data["frames"]), np.asarray(data["xyxy"]))

    def at(self, frame: int) -> Observation | None:
        """The nearest observation within the track's span; None outside it."""
        if frame < self.frames[0] or frame > self.frames[-1]:
            return None
        i = int(np.abs(self.frames - frame).argmin())
        return Observation(frame, tuple(int(v) for v in self.xyxy[i]), bool(self.frames[i] == frame))

    def nearest_frame(self, target: int, lo: int, hi: int) -> int | None:
        """The observed frame in lo..hi closest to target."""
        inside = self.frames[(self.frames >= lo) & (self.frames <= hi)]
        return int(inside[np.abs(inside - target).argmin()]) if len(inside) else None

    def largest_frame(self, lo: int, hi: int) -> int | None:
        """The observed frame in lo..hi where the vehicle's box is largest (best visible)."""
        keep = (self.frames >= lo) & (self.frames <= hi)
        if not keep.any():
            return None
        x1, y1, x2, y2 = self.xyxy[keep].T
        return int(self.frames[keep][((x2 - x1) * (y2 - y1)).argmax()])
