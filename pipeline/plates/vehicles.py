"""Find vehicles in a still photo, so plates can be looked for at vehicle scale.

Video does not need this (the tracker already gives vehicle boxes); a still photo does, because
the plate detector sees every input at 320 px and a plate in a whole 1280-pixel frame shrinks to
a quarter of its width there.

>>> finder = YoloVehicleFinder(resolve_model("vehicle_detector"))  # doctest: +SKIP
>>> finder.find(cv2.imread("street.jpg"))  # doctest: +SKIP
array([[ 102.,  310.,  644.,  702.]], dtype=float32)
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

VEHICLE_CLASSES = (2, 3, 5, 7)  # COCO car, motorcycle, bus, truck: what carries a plate


class VehicleFinder(Protocol):
    def find(self, image_bgr: np.ndarray) -> np.ndarray:
        """(N, 4) float32 vehicle boxes x1, y1, x2, y2 in the image's pixels."""


class YoloVehicleFinder:
    """An ultralytics COCO detector (such as the YOLO11n OpenVINO folder) kept to vehicle classes."""

    def __init__(self, model_path: str | Path, confidence: float = 0.25, imgsz: int = 640):
        from ultralytics import YOLO  # heavy import, only when built

        self._model = YOLO(str(model_path), task="detect")
        self._kwargs = dict(imgsz=imgsz, conf=confidence, classes=list(VEHICLE_CLASSES), verbose=False)

    def find(self, image_bgr: np.ndarray) -> np.ndarray:
        return self._model.predict(image_bgr, **self._kwargs)[0].boxes.xyxy.numpy().astype(np.float32)
