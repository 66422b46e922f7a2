"""Plate detection: one BGR image in, plate boxes out.

`PlateDetector` is the interface (like fast-alpr's BaseDetector) so another model or runtime can be
swapped in; `YoloPlateDetector` runs an ultralytics-loadable model such as
``license_plate_detector_int8.onnx``.

>>> detector = YoloPlateDetector(resolve_model("plate_detector"))  # doctest: +SKIP
>>> detector.detect(cv2.imread("car.jpg")).xyxy  # doctest: +SKIP
array([[412.1, 540.3, 598.7, 583.9]], dtype=float32)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class PlateBoxes:
    """Plate boxes in one image, as parallel arrays (one row per plate)."""

    xyxy: np.ndarray  # (N, 4) float32 pixels
    confidence: np.ndarray  # (N,) float32

    def __len__(self) -> int:
        return len(self.confidence)

    @classmethod
    def empty(cls) -> PlateBoxes:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def shifted(self, dx: float, dy: float, scale: float = 1.0) -> PlateBoxes:
        """Boxes found in a crop (resized by `scale`) mapped back to the image it was cut from."""
        return PlateBoxes(self.xyxy / scale + np.array([dx, dy, dx, dy], np.float32), self.confidence)

    @classmethod
    def concat(cls, parts: list[PlateBoxes]) -> PlateBoxes:
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.xyxy for p in parts]), np.concatenate([p.confidence for p in parts]))

    def nms(self, iou: float = 0.4) -> PlateBoxes:
        """Keep the most confident of boxes overlapping by more than `iou` (the same plate found
        by several passes), most confident first."""
        order = np.argsort(-self.confidence)
        keep: list[int] = []
        for i in order:
            if not keep or box_iou(self.xyxy[keep], self.xyxy[i]).max() <= iou:
                keep.append(i)
        return PlateBoxes(self.xyxy[keep], self.confidence[keep])


def box_iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each of (N, 4) `boxes` with one `box`, all x1, y1, x2, y2."""
    lo = np.maximum(boxes[:, :2], box[:2])
    hi = np.minimum(boxes[:, 2:], box[2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1) + np.prod(box[2:] - box[:2])
    return inter / np.maximum(area - inter, 1e-9)


class PlateDetector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> PlateBoxes:
        """Plates in `image_bgr`, in its pixels."""


class YoloPlateDetector:
    """An ultralytics YOLO plate detector.

    The shared model is a static 320x320 graph: it sees every image letterboxed to 320 px, so the
    caller decides the scale by what it crops (see `PlateReader`).
    """

    def __init__(self, model_path: str | Path, confidence: float = 0.15, imgsz: int = 320):
        from ultralytics import YOLO  # heavy import, only when a detector is built

        self._model = YOLO(str(model_path), task="detect")
        self._kwargs = dict(imgsz=imgsz, conf=confidence, verbose=False)

    def detect(self, image_bgr: np.ndarray) -> PlateBoxes:
        boxes = self._model.predict(image_bgr, **self._kwargs)[0].boxes
        return PlateBoxes(boxes.xyxy.numpy().astype(np.float32), boxes.conf.numpy().astype(np.float32))
