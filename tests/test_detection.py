"""The batch's own OpenVINO runtime finds exactly the vehicles ultralytics' predictor finds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipeline.detection import OpenVINODetector, UltralyticsDetector, load_detector
from pipeline.footage import open_footage
from pipeline.models import resolve_model
from tests.conftest import SHENZHEN


def test_openvino_runtime_matches_ultralytics_on_real_frames_even_called_from_two_threads():
    model = resolve_model("vehicle_detector")
    with open_footage(SHENZHEN) as video:
        frames = [bgr for index, bgr in video.frames() if index in (0, 300, 600, 900)]
    reference = UltralyticsDetector(str(model), confidence=0.1).detect(frames)
    ours = load_detector(model, confidence=0.1, imgsz=640, parallel=2)
    assert isinstance(ours, OpenVINODetector)

    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda frame: ours.detect([frame])[0], frames))

    assert sum(len(r) for r in reference) >= 20  # a busy road: buses, cars, scooters
    for want, got in zip(reference, found):
        order_w, order_g = np.argsort(-want.confidence), np.argsort(-got.confidence)
        np.testing.assert_allclose(got.xyxy[order_g], want.xyxy[order_w], atol=0.5)
        np.testing.assert_array_equal(got.class_id[order_g], want.class_id[order_w])
