"""Vehicle detection and tracking.

`VehicleDetector` turns frames into untracked boxes (`OpenVINODetector` for an OpenVINO model,
`UltralyticsDetector` for other formats), from a YOLO11-style model (boxes for NMS) or a YOLO26-style
end-to-end one (final boxes, no NMS); `LaneRegionDetector` runs it on the lane's surroundings only,
tiling several frames' regions into one model input, enlarged on small frames and with a flat
(dusk, fog) picture's contrast stretched; `ByteTracker` (ultralytics'
ByteTrack) links boxes into tracks. `UltralyticsTracker` is the plain whole-frame `model.track`
recipe, kept as the baseline the benchmark compares against.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

# COCO ids the detector keeps. Riders on two wheels are often labelled "person"; lane rules
# decide from their motion whether a person track is a rider (see lane_rules.vehicle_class).
COCO_CLASSES = {0: "person", 1: "bicycle", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}
UNTRACKED = -1


@dataclass(frozen=True)
class Detections:
    """Boxes in one frame, as parallel arrays (one row per vehicle)."""

    xyxy: np.ndarray  # (N, 4) float32 pixels
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int COCO id
    track_id: np.ndarray  # (N,) int, UNTRACKED before tracking

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, int), np.zeros(0, int))

    def __len__(self) -> int:
        return len(self.track_id)

    def __getitem__(self, keep: np.ndarray) -> Detections:
        return Detections(self.xyxy[keep], self.confidence[keep], self.class_id[keep], self.track_id[keep])

    def one_class_per_box(self) -> Detections:
        """Each box once, under its best class. An end-to-end (YOLO26) head lists one box once per
        class it scores (a car as car 0.68 and truck 0.12, the same coordinates), which would make
        two tracks of one vehicle; NMS output never repeats a box, so this changes nothing there."""
        by_score = np.argsort(-self.confidence, kind="stable")
        _, first = np.unique(self.xyxy[by_score], axis=0, return_index=True)
        return self[by_score[np.sort(first)]]

    @property
    def ground_points(self) -> np.ndarray:
        """(N, 2) bottom centre of each box: where the vehicle meets the road."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)


class VehicleDetector(Protocol):
    imgsz: int  # the model's square input size
    parallel: int  # how many `detect` calls may run at once (from different threads)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Untracked vehicles in each BGR image."""


def load_detector(model_path: Path, confidence: float, imgsz: int, parallel: int) -> VehicleDetector:
    """OpenVINO itself for an OpenVINO model (the fastest on a CPU), ultralytics for anything else."""
    if model_path.suffix == ".xml" or (model_path.is_dir() and any(model_path.glob("*.xml"))):
        return OpenVINODetector(model_path, confidence, imgsz, parallel)
    return UltralyticsDetector(str(model_path), confidence, imgsz)


def _from_boxes(boxes) -> Detections:
    n = len(boxes)
    return Detections(
        boxes.xyxy.numpy().astype(np.float32),
        boxes.conf.numpy().astype(np.float32),
        boxes.cls.numpy().astype(int),
        boxes.id.numpy().astype(int) if boxes.id is not None else np.full(n, UNTRACKED),
    )


class UltralyticsDetector:
    """Any ultralytics-loadable YOLO (a .pt, ONNX or OpenVINO export), one call at a time."""

    parallel = 1  # ultralytics' predictor serialises calls with a lock

    def __init__(self, model_path: str, confidence: float = 0.1, imgsz: int = 640):
        from ultralytics import YOLO  # heavy import, only when a detector is built

        self.model = YOLO(str(model_path), task="detect")
        self.imgsz = imgsz
        self.kwargs = dict(classes=list(COCO_CLASSES), conf=confidence, imgsz=imgsz, verbose=False)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        return [_from_boxes(r.boxes).one_class_per_box() for r in self.model.predict(images, **self.kwargs)]


class OpenVINODetector:
    """The OpenVINO YOLO folder run by OpenVINO itself, `parallel` inferences at a time, one core each.

    On the 2-core machine two single-threaded inferences side by side get through about 10% more
    images than one spread over both cores, and the predictor's own overhead (about 4 ms a call) is
    gone. Pre- and post-processing are ultralytics' own (letterbox, NMS or, for an end-to-end model's
    [1, 300, 6] output, only the confidence and class filter; box scaling), so the boxes are
    `UltralyticsDetector`'s (tested for YOLO11n and YOLO26n).
    """

    def __init__(self, folder: Path, confidence: float = 0.1, imgsz: int = 640, parallel: int = 2):
        import openvino as ov
        from ultralytics.data.augment import LetterBox

        xml = folder if folder.is_file() else next(folder.glob("*.xml"))
        # One stream per request, one core each: the requests really run side by side (with one
        # stream, OpenVINO would queue them).
        compiled = ov.Core().compile_model(str(xml), "CPU", {"NUM_STREAMS": parallel, "INFERENCE_NUM_THREADS": parallel})
        self.imgsz, self.confidence, self.parallel = imgsz, confidence, parallel
        self._letterbox = LetterBox((imgsz, imgsz), auto=False)
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(parallel):
            self._requests.put(compiled.create_infer_request())

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Thread-safe: up to `parallel` callers infer at once, each on its own request."""
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> Detections:
        import torch
        from ultralytics.utils.nms import non_max_suppression
        from ultralytics.utils.ops import scale_boxes

        boxed = self._letterbox(image=image)
        blob = np.ascontiguousarray(boxed[None, :, :, ::-1].transpose(0, 3, 1, 2), np.float32) / 255
        request = self._requests.get()
        try:
            raw = request.infer({0: blob}, share_outputs=False)[0]  # a copy: the request is reused
        finally:
            self._requests.put(request)
        # ultralytics tells an end-to-end output by its shape (rows of 6) and then skips NMS itself.
        kept = non_max_suppression(torch.from_numpy(raw), self.confidence, 0.7, classes=list(COCO_CLASSES))[0]
        xyxy = scale_boxes(boxed.shape[:2], kept[:, :4], image.shape[:2]).numpy()
        return Detections(xyxy.astype(np.float32), kept[:, 4].numpy().astype(np.float32),
                          kept[:, 5].numpy().astype(int), np.full(len(kept), UNTRACKED)).one_class_per_box()


@dataclass(frozen=True)
class RegionLayout:
    """Where the lane's surroundings sit in a frame and how `grid`x`grid` of them tile one model input.

    >>> RegionLayout.plan((308, 4, 640, 360), 640, 360, imgsz=640, min_scale=0.75).grid
    2
    """

    x0: int
    y0: int
    x1: int
    y1: int
    frame_w: int
    frame_h: int
    grid: int
    scale: float
    imgsz: int

    @classmethod
    def plan(cls, region: tuple[int, int, int, int], frame_w: int, frame_h: int, imgsz: int, min_scale: float) -> RegionLayout:
        """The most frames per input whose regions, each filling its cell, keep at least `min_scale`
        of the scale a plain whole-frame pass gives (`imgsz` over the frame's longest side).

        That scale enlarges a frame smaller than the model's input, and so do we (small vehicles):
        a camera is framed on its road, so a car spans about the same share of the picture whatever
        the sensor's resolution; at a whole-frame pass's scale it comes out near 45 px, a size the
        model finds, where a 25 px car on a 352x288 camera at its own resolution is mostly missed.
        The rule needs no per-site tuning, and frames of 640 px or more keep the tiling they had
        when regions were never enlarged.

        >>> jamcam = RegionLayout.plan((102, 2, 349, 288), 352, 288, imgsz=640, min_scale=0.75)
        >>> jamcam.grid, round(jamcam.scale, 2)  # a 25 px car comes out 45 px
        (1, 1.82)
        """
        x0, y0, x1, y1 = region
        longest = max(x1 - x0, y1 - y0)
        whole_frame_scale = imgsz / max(frame_w, frame_h)
        for grid in (4, 3, 2, 1):
            # Enlarged no more than a whole-frame pass would (a larger frame: not at all). On a dim copy
            # of a 352x288 camera the region filling the input (2.5x) gave a third of the boxes
            # scoring 0.25 that 1.8x gave, and lost a van the whole-frame baseline kept.
            scale = min((imgsz // grid) / longest, max(1.0, whole_frame_scale))
            if scale >= min_scale * whole_frame_scale or grid == 1:
                return cls(x0, y0, x1, y1, frame_w, frame_h, grid, scale, imgsz)
        raise AssertionError("unreachable")

    @property
    def per_input(self) -> int:
        return self.grid * self.grid


class LaneRegionDetector:
    """Detect on the lane's surroundings only, `grid`² frames per model input, each region's
    contrast stretched up to `contrast_floor` (`stretch_contrast`; 0: as recorded)."""

    def __init__(self, detector: VehicleDetector, layout: RegionLayout, contrast_floor: int = 0):
        self.detector, self.layout, self.contrast_floor = detector, layout, contrast_floor
        self.imgsz, self.parallel = detector.imgsz, detector.parallel

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        lay = self.layout
        n = lay.per_input
        mosaics = [self._mosaic(images[i : i + n]) for i in range(0, len(images), n)]
        results = self.detector.detect(mosaics)
        return [self._tile(results[k // n], k % n) for k in range(len(images))]

    def _mosaic(self, images: list[np.ndarray]) -> np.ndarray:
        lay = self.layout
        cell = lay.imgsz // lay.grid
        canvas = np.full((lay.imgsz, lay.imgsz, 3), 114, np.uint8)  # YOLO's letterbox grey
        for k, image in enumerate(images):
            crop = stretch_contrast(image[lay.y0 : lay.y1, lay.x0 : lay.x1], self.contrast_floor)
            if lay.scale != 1.0:
                # Area averaging to shrink, bilinear to enlarge (what ultralytics' letterbox uses).
                interpolation = cv2.INTER_AREA if lay.scale < 1 else cv2.INTER_LINEAR
                crop = cv2.resize(crop, None, fx=lay.scale, fy=lay.scale, interpolation=interpolation)
            r, c = divmod(k, lay.grid)
            canvas[r * cell : r * cell + crop.shape[0], c * cell : c * cell + crop.shape[1]] = crop
        return canvas

    def _tile(self, mosaic: Detections, k: int) -> Detections:
        lay = self.layout
        cell = lay.imgsz // lay.grid
        r, c = divmod(k, lay.grid)
        w, h = (lay.x1 - lay.x0) * lay.scale, (lay.y1 - lay.y0) * lay.scale
        local = mosaic.xyxy - np.array([c * cell, r * cell] * 2, np.float32)
        centre = (local[:, :2] + local[:, 2:]) / 2
        inside = (centre[:, 0] >= 0) & (centre[:, 0] < w) & (centre[:, 1] >= 0) & (centre[:, 1] < h)
        xyxy = local / lay.scale + np.array([lay.x0, lay.y0] * 2, np.float32)
        # A box cut by the region's side or bottom edge (where that edge is not the frame's) has a
        # false bottom centre; such vehicles are at least the margin away from the lane, so they are
        # dropped. A box cut at the top (a tall vehicle in the lane) keeps its true bottom centre.
        edge = 2.0
        cut = (
            ((xyxy[:, 0] <= lay.x0 + edge) & (lay.x0 > 0))
            | ((xyxy[:, 2] >= lay.x1 - edge) & (lay.x1 < lay.frame_w))
            | ((xyxy[:, 3] >= lay.y1 - edge) & (lay.y1 < lay.frame_h))
        )
        return Detections(xyxy, mosaic.confidence, mosaic.class_id, mosaic.track_id)[inside & ~cut]


# Most a flat picture is stretched: a third of the contrast is what dusk, fog or a dirty lens leave
# (a sixth on the benchmark's dim copies); more would mostly amplify noise.
MAX_STRETCH = 3.0


def stretch_contrast(image: np.ndarray, floor: int) -> np.ndarray:
    """`image` with its grey levels spread to span at least `floor` (1st to 99th percentile), at
    most MAX_STRETCH times, centred on mid-grey; an image that spans `floor` already is returned as is.

    The detector learnt on daylight photographs: on the benchmark clips' dim copies (contrast cut to
    a sixth) `buslane process` found 8 of 11 vehicles along the lane, stretched 10. Daylight footage
    spans 170-240 grey levels and is never touched. Only the detector's input is changed, never the
    footage kept as evidence.

    >>> flat = np.tile(np.arange(100, 140, dtype=np.uint8), (64, 4))  # 40 grey levels
    >>> out = stretch_contrast(flat, 100)
    >>> int(out.min()), int(out.max())
    (80, 197)
    >>> daylight = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
    >>> stretch_contrast(daylight, 100) is daylight
    True
    """
    if floor <= 0:
        return image
    # Percentiles from a histogram of every 64th pixel: thousands of values, a fraction of the cost of sorting.
    cumulative = np.cumsum(np.bincount(image[::8, ::8].ravel(), minlength=256))
    lo, hi = np.searchsorted(cumulative, (0.01 * cumulative[-1], 0.99 * cumulative[-1]))
    spread = max(float(hi - lo), 1.0)
    if spread >= floor:
        return image
    gain = min(floor / spread, MAX_STRETCH)
    lut = np.clip((np.arange(256) - (lo + hi) / 2) * gain + 128, 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)


def tracker_config(name: str) -> str:
    """The tracker settings file: a path, the project's own (beside this module) or one of ultralytics'."""
    from ultralytics.utils.checks import check_yaml

    if Path(name).is_file():
        return name
    own = Path(__file__).with_name(name)
    if own.is_file():
        return str(own)
    try:
        return check_yaml(name)
    except FileNotFoundError:
        raise ValueError(f"detection.tracker {name!r}: no such file (a path, a file beside {Path(__file__).name}, "
                         "or one of ultralytics' trackers such as bytetrack.yaml)") from None


class ByteTracker:
    """ultralytics' ByteTrack, fed with our own detections one frame at a time."""

    def __init__(self, config: str = "buslane_bytetrack.yaml"):
        from ultralytics.utils import YAML, IterableSimpleNamespace

        self._config = IterableSimpleNamespace(**YAML.load(tracker_config(config)))
        self._tracker = None

    def start(self) -> None:
        from ultralytics.trackers.track import TRACKER_MAP

        self._tracker = TRACKER_MAP[self._config.tracker_type](args=self._config)

    def update(self, detections: Detections, frame_shape: tuple[int, int]) -> Detections:
        from ultralytics.engine.results import Boxes

        data = np.column_stack([detections.xyxy, detections.confidence, detections.class_id]).astype(np.float32)
        tracked = self._tracker.update(Boxes(data, frame_shape))
        if len(tracked) == 0:
            return Detections.empty()
        return Detections(
            tracked[:, :4].astype(np.float32), tracked[:, 5].astype(np.float32),
            tracked[:, 6].astype(int), tracked[:, 4].astype(int),
        )


class UltralyticsTracker:
    """The baseline: ultralytics `model.track` on every whole frame."""

    def __init__(self, model_path: str, confidence: float = 0.1, tracker: str = "bytetrack.yaml", imgsz: int = 640):
        from ultralytics import YOLO

        self._model = YOLO(str(model_path), task="detect")
        self._kwargs = dict(classes=list(COCO_CLASSES), conf=confidence, tracker=tracker, imgsz=imgsz, verbose=False)
        self._persist = False

    def start(self) -> None:
        self._persist = False  # ultralytics builds fresh trackers on a call with persist=False

    def update(self, frame_bgr: np.ndarray) -> Detections:
        boxes = self._model.track(frame_bgr, persist=self._persist, **self._kwargs)[0].boxes
        self._persist = True
        return _from_boxes(boxes) if boxes.id is not None else Detections.empty()


def region_of_interest(masks: list[np.ndarray], margin: int) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the union of masks, grown by `margin` and clipped to the frame."""
    union = np.logical_or.reduce(masks)
    ys, xs = np.nonzero(union)
    h, w = union.shape
    return (max(0, int(xs.min()) - margin), max(0, int(ys.min()) - margin),
            min(w, int(xs.max()) + 1 + margin), min(h, int(ys.max()) + 1 + margin))


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """The mask dilated by `pixels` in every direction."""
    if pixels <= 0:
        return mask
    size = 2 * pixels + 1
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))).astype(bool)
