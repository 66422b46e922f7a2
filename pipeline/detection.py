"""Vehicle detection and tracking: one frame in, this frame's tracked vehicles out.

The tracker is an interface so a faster runtime or another model can be swapped in; the
implementation here is ultralytics' YOLO with its ByteTrack tracker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

# COCO ids the detector keeps. Riders on two wheels are often labelled "person"; lane rules
# decide from their motion whether a person track is a rider (see lane_rules.vehicle_class).
COCO_CLASSES = {0: "person", 1: "bicycle", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


@dataclass(frozen=True)
class Detections:
    """Tracked boxes in one frame, as parallel arrays (one row per vehicle)."""

    xyxy: np.ndarray  # (N, 4) float32 pixels
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int COCO id
    track_id: np.ndarray  # (N,) int

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, int), np.zeros(0, int))

    def __len__(self) -> int:
        return len(self.track_id)

    @property
    def ground_points(self) -> np.ndarray:
        """(N, 2) bottom centre of each box: where the vehicle meets the road."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)


class VehicleTracker(Protocol):
    def start(self) -> None:
        """Forget all tracks: the next frame begins a new footage file."""

    def update(self, frame_bgr: np.ndarray) -> Detections: ...


class UltralyticsTracker:
    """YOLO (any ultralytics-loadable model folder or file) with an ultralytics tracker."""

    def __init__(self, model_path: str, confidence: float = 0.1, tracker: str = "bytetrack.yaml", imgsz: int = 640):
        from ultralytics import YOLO  # heavy import, only when a tracker is built

        self._model = YOLO(str(model_path), task="detect")
        self._kwargs = dict(
            classes=list(COCO_CLASSES), conf=confidence, tracker=tracker, imgsz=imgsz, verbose=False
        )
        self._persist = False

    def start(self) -> None:
        self._persist = False  # ultralytics builds fresh trackers on a call with persist=False

    def update(self, frame_bgr: np.ndarray) -> Detections:
        boxes = self._model.track(frame_bgr, persist=self._persist, **self._kwargs)[0].boxes
        self._persist = True
        if boxes.id is None:
            return Detections.empty()
        return Detections(
            boxes.xyxy.numpy().astype(np.float32),
            boxes.conf.numpy().astype(np.float32),
            boxes.cls.numpy().astype(int),
            boxes.id.numpy().astype(int),
        )
