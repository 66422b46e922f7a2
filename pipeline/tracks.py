"""Collect a file's per-frame detections into whole tracks (one per tracked vehicle)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from pipeline.detection import Detections


@dataclass(frozen=True)
class Track:
    """Every observation of one tracked vehicle, in frame order."""

    track_id: int
    frames: np.ndarray  # (n,) int frame indices
    xyxy: np.ndarray  # (n, 4)
    class_id: np.ndarray  # (n,)
    confidence: np.ndarray  # (n,)

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
