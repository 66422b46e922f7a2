"""The batch's own OpenVINO runtime finds exactly the vehicles ultralytics' predictor finds, for both
vehicle detectors; small vehicles on a low-resolution camera are found by detecting them enlarged."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from pipeline.analysis import frame_detector
from pipeline.detection import COCO_CLASSES, LaneRegionDetector, OpenVINODetector, UltralyticsDetector, load_detector, region_of_interest, tracker_config
from pipeline.footage import open_footage
from pipeline.models import resolve_model
from pipeline.site import Processing
from tests.conftest import FOOTAGE, SHENZHEN

VEHICLE_DETECTORS = ["vehicle_detector_yolo11n", "vehicle_detector_yolo26n"]


@pytest.fixture(scope="module")
def shenzhen_frames() -> list[np.ndarray]:
    with open_footage(SHENZHEN) as video:
        return [bgr for index, bgr in video.frames() if index in (0, 300, 600, 900)]


def test_loading_and_running_the_detectors_calls_no_one_and_loads_no_telemetry():
    # A fresh interpreter outside pytest (ultralytics keeps quiet under pytest): this one may have
    # imported openvino before the pipeline. Every name looked up is listed.
    probe = """
import socket
import sys
looked_up = []
real = socket.getaddrinfo
socket.getaddrinfo = lambda host, *a, **k: looked_up.append(host) or real(host, *a, **k)
from pipeline.detection import load_detector
from pipeline.models import resolve_model
detector = load_detector(resolve_model("vehicle_detector_yolo11n"), 0.25, 640, 1)
import numpy as np
from ultralytics import YOLO
YOLO(str(resolve_model("vehicle_detector_yolo26n")), task="detect").predict(np.zeros((64, 64, 3), np.uint8), verbose=False)
print(sorted(m for m in sys.modules if "telemetry" in m), looked_up)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "YOLO_OFFLINE")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True, env=env)
    assert out.stdout.splitlines()[-1] == "[] []", out.stdout + out.stderr


@pytest.mark.parametrize("name", VEHICLE_DETECTORS)
def test_openvino_runtime_matches_ultralytics_on_real_frames_even_called_from_two_threads(name, shenzhen_frames):
    model = resolve_model(name)
    reference = UltralyticsDetector(str(model), confidence=0.1).detect(shenzhen_frames)
    ours = load_detector(model, confidence=0.1, imgsz=640, parallel=2)
    assert isinstance(ours, OpenVINODetector)

    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda frame: ours.detect([frame])[0], shenzhen_frames))

    assert sum(len(r) for r in reference) >= 20  # a busy road: buses, cars, scooters
    for want, got in zip(reference, found):
        order_w, order_g = np.argsort(-want.confidence), np.argsort(-got.confidence)
        np.testing.assert_allclose(got.xyxy[order_g], want.xyxy[order_w], atol=0.5)
        np.testing.assert_array_equal(got.class_id[order_g], want.class_id[order_w])


def test_the_end_to_end_yolo26n_lists_each_vehicle_once_under_its_best_class(shenzhen_frames):
    """Its head lists one box once per class it scores; one vehicle must not become two tracks."""
    from ultralytics import YOLO

    model = resolve_model("vehicle_detector_yolo26n")
    raw = YOLO(str(model), task="detect").predict(shenzhen_frames, conf=0.1, classes=list(COCO_CLASSES), verbose=False)
    ours = load_detector(model, confidence=0.1, imgsz=640, parallel=1).detect(shenzhen_frames)

    repeated = 0
    for result, got in zip(raw, ours):
        boxes, scores, classes = (result.boxes.xyxy.numpy(), result.boxes.conf.numpy(), result.boxes.cls.numpy())
        unique = np.unique(boxes, axis=0)
        repeated += len(boxes) - len(unique)
        assert len(got) == len(unique)
        for box, score, class_id in zip(got.xyxy, got.confidence, got.class_id):
            same = np.abs(boxes - box).max(axis=1) <= 0.5  # the predictor's rows for this very box
            assert score == pytest.approx(scores[same].max(), abs=1e-4)
            assert class_id == classes[same][np.argmax(scores[same])]
    assert repeated > 0  # the premise: the predictor does list some vehicles twice on these frames


# A 352x288 London traffic camera (JamCam, A40 Old Oak Road). The road has no bus lane: the lane is
# the near carriageway's kerb-side lane, drawn by eye.
JAMCAM = FOOTAGE / "jamcam_2_a40_old_oak_road.mp4"
KERB_LANE = np.array([[150, 288], [215, 288], [290, 120], [300, 50], [292, 50], [262, 120]], np.int32)
# Frame 42, boxed by eye: a red car on the far carriageway (23 px wide) and a white car coming
# down the kerb-side lane (16 px wide), both inside the lane's surroundings.
SMALL_CARS_FRAME = 42
SMALL_CARS = np.array([[151, 72, 174, 85], [293, 50, 309, 73]], np.float32)


def _found(detections, box: np.ndarray) -> bool:
    """A vehicle box over the labelled one that is strong enough to start a track (ByteTrack's 0.25)."""
    x0, y0 = np.maximum(detections.xyxy[:, :2], box[:2]).T
    x1, y1 = np.minimum(detections.xyxy[:, 2:], box[2:]).T
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    iou = inter / (area(detections.xyxy) + area(box) - inter)
    return bool(((iou >= 0.5) & (detections.confidence >= 0.25)).any())


def test_small_cars_on_a_352x288_camera_are_found_enlarged_where_native_scale_misses_them():
    with open_footage(JAMCAM) as video:
        info = video.info
        frame = next(bgr for index, bgr in video.frames() if index == SMALL_CARS_FRAME)
    lane = cv2.fillPoly(np.zeros((info.height, info.width), np.uint8), [KERB_LANE], 1).astype(bool)
    proc = Processing()
    region = region_of_interest([lane], proc.region_margin(info.width, info.height))
    model = load_detector(resolve_model("vehicle_detector"), confidence=0.1, imgsz=640, parallel=1)

    detector, _ = frame_detector(model, proc, region, info)
    assert detector.layout.scale * 25 >= 40  # a car 25 px wide on this camera reaches 40 px
    enlarged = detector.detect([frame])[0]
    # The same region at the camera's own resolution, four frames to an input: the layout before.
    native = LaneRegionDetector(model, dataclasses.replace(detector.layout, grid=2, scale=1.0)).detect([frame])[0]

    for car in SMALL_CARS:
        assert not _found(native, car), car
        assert _found(enlarged, car), car


def test_a_flat_dusk_picture_is_stretched_so_the_detector_finds_what_it_finds_by_day():
    """JamCam 1 (Cromwell Road) at dusk, as the lane benchmark's dim copy makes it (a sixth of the
    contrast): at the lane's surroundings as recorded the detector loses most vehicles it finds by
    day; stretched (Processing.contrast_floor) it finds them again. Daylight is never touched."""
    from pipeline.bench.lanes import LABELS, bench_site, load_labels
    from pipeline.bench.variants import dim

    labels = load_labels(LABELS / "jamcam_1.yaml")
    site = bench_site(labels, None)
    with open_footage(labels.clip) as video:
        info = video.info
        frame = next(bgr for index, bgr in video.frames() if index == 180)
    lane = np.zeros((info.height, info.width), np.uint8)
    for polygon in site.lanes:
        cv2.fillPoly(lane, [np.array(polygon, np.int32)], 1)
    proc = Processing()
    region = region_of_interest([lane.astype(bool)], proc.region_margin(info.width, info.height))
    model = load_detector(resolve_model("vehicle_detector"), confidence=0.1, imgsz=640, parallel=1)
    stretched, _ = frame_detector(model, proc, region, info)
    as_recorded = LaneRegionDetector(model, stretched.layout, contrast_floor=0)

    by_day = as_recorded.detect([frame])[0]
    by_day = by_day[by_day.confidence >= 0.25]
    dusk = dim(frame, 1 / 6)
    assert len(by_day) >= 6  # the premise: a busy junction
    assert sum(_found(as_recorded.detect([dusk])[0], box) for box in by_day.xyxy) <= len(by_day) / 2
    assert sum(_found(stretched.detect([dusk])[0], box) for box in by_day.xyxy) >= 0.8 * len(by_day)
    assert stretched.detect([frame])[0].xyxy.tolist() == as_recorded.detect([frame])[0].xyxy.tolist()


def test_the_tracker_setting_names_the_projects_ultralytics_or_a_file_and_a_bad_one_is_named():
    assert tracker_config("buslane_bytetrack.yaml").endswith("pipeline/buslane_bytetrack.yaml")
    assert "ultralytics" in tracker_config("bytetrack.yaml")
    with pytest.raises(ValueError, match="detection.tracker 'nowhere.yaml': no such file"):
        tracker_config("nowhere.yaml")
