"""Read plates: inside a vehicle's box in a full-resolution frame, or anywhere in a still photo.

The plate detector sees every input letterboxed to 320 px, so the reader chooses the scale by what
it crops: a vehicle's box (plus a margin) rather than the whole frame, which keeps a 60-pixel plate
near 60 pixels instead of shrinking it to 15. Each plate found is checked for size and sharpness
(`QualityGate`), cut out a few times with small shifts, and all crops of all plates go to the OCR
as one batch; a plate's shifted crops are then voted character by character, which steadies reads
of small plates whose detected box is a few pixels off. A small plate is also found a second time,
by the detector run on the plate's own neighbourhood, and that box's crops join the vote.

Construct once, call per vehicle per frame, vote per vehicle:

>>> reader = PlateReader.from_models()  # doctest: +SKIP
>>> reads = reader.read_vehicle(frame_bgr, track.box_at(i), frame_index=i)  # doctest: +SKIP
>>> vote(all_reads_of_the_track).plate  # doctest: +SKIP
'OY09FEU'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.models import resolve_model
from pipeline.plates.detector import PlateBoxes, PlateDetector, YoloPlateDetector, box_iou
from pipeline.plates.ocr import FastPlateOCR, PlateOCR
from pipeline.plates.quality import QualityGate
from pipeline.plates.types import PlateRead
from pipeline.plates.uk_formats import classify
from pipeline.plates.vehicles import VehicleFinder, YoloVehicleFinder
from pipeline.plates.voting import vote_country, weighted_vote

log = logging.getLogger(__name__)

# (dx, dy) shifts of a plate's box, as fractions of its width and height. Measured on the
# small-plate ladder: voting these seven crops reads 60-80 px plates a few points better than the
# detected box alone; paddings, sharpening and denoising did not help.
SHIFTS = ((0.0, 0.0), (-0.04, -0.1), (-0.04, 0.1), (0.0, -0.1), (0.0, 0.1), (0.04, -0.1), (0.04, 0.1))


@dataclass(frozen=True)
class ReaderSettings:
    vehicle_margin: float = 0.1  # of the vehicle box, each side: plates sit on the box's edge
    # A vehicle narrower than this cannot hold a plate of QualityGate.min_width (a plate is about
    # a third of a car's width), so the detector is not even run on it.
    min_vehicle_width: int = 120
    # Still photos: the vehicle-scale pass runs only on images whose longer side is over this
    # (twice the plate detector's 320 px): smaller images already reach the detector at a useful
    # scale, and each pass costs a detector run (about 60 ms on a CPU core).
    vehicle_pass_min_side: int = 640
    max_vehicles: int = 3  # the largest vehicles searched at vehicle scale
    nms_iou: float = 0.4  # boxes of one plate found by several passes
    shifts: tuple[tuple[float, float], ...] = SHIFTS
    # Plates narrower than this are found again in their neighbourhood (`_redetected`), which costs
    # a detector run per plate. Measured on the small-plate ladder with two noise draws: voting
    # both boxes' crops reads 60 px plates about 2 points better than one box's (replacing the box
    # by the second one does not help); at 110 px and over it gains nothing.
    redetect_below: int = 100
    redetect_margin: tuple[float, float] = (1.0, 1.5)  # plate widths, heights around the plate
    quality: QualityGate = field(default_factory=QualityGate)


class PlateReader:
    def __init__(
        self,
        detector: PlateDetector,
        ocr: PlateOCR,
        vehicles: VehicleFinder | None = None,
        settings: ReaderSettings | None = None,
    ):
        self.detector, self.ocr, self.vehicles = detector, ocr, vehicles
        self.settings = settings or ReaderSettings()

    @classmethod
    def from_models(
        cls,
        plate_detector: str = "plate_detector",
        plate_ocr: str = "plate_ocr",
        plate_ocr_config: str = "plate_ocr_config",
        vehicle_detector: str | None = "vehicle_detector",
        settings: ReaderSettings | None = None,
    ) -> PlateReader:
        """Load the models, each a manifest name or a path; `vehicle_detector` None skips the
        vehicle-scale pass of `read_image` (video callers pass their tracker's boxes instead)."""
        return cls(
            YoloPlateDetector(resolve_model(plate_detector)),
            FastPlateOCR(resolve_model(plate_ocr), resolve_model(plate_ocr_config)),
            YoloVehicleFinder(resolve_model(vehicle_detector)) if vehicle_detector else None,
            settings,
        )

    def read_vehicle(
        self, frame_bgr: np.ndarray, vehicle_box_xyxy: Sequence[float], frame_index: int = 0
    ) -> list[PlateRead]:
        """Plates inside one vehicle's box, most confident detection first."""
        return self.read_vehicles(frame_bgr, np.asarray([vehicle_box_xyxy], np.float32), frame_index)[0]

    def read_vehicles(
        self, frame_bgr: np.ndarray, vehicle_boxes: np.ndarray, frame_index: int = 0
    ) -> list[list[PlateRead]]:
        """Plates inside each of (N, 4) vehicle boxes of one frame, with one OCR call for them all."""
        boxes = np.asarray(vehicle_boxes, np.float32).reshape(-1, 4)
        found = [self._find_in_vehicle(frame_bgr, box) for box in boxes]
        reads = self._read_boxes(frame_bgr, PlateBoxes.concat(found), frame_index)
        bounds = np.cumsum([0, *map(len, found)])
        return [[r for r in reads[a:b] if r] for a, b in zip(bounds[:-1], bounds[1:])]

    def read_image(self, image_bgr: np.ndarray) -> list[PlateRead]:
        """Plates anywhere in a still photo: the whole image at the detector's scale, plus the
        largest vehicles at vehicle scale when a vehicle finder is set."""
        found = [self.detector.detect(image_bgr)]
        if self.vehicles is not None and max(image_bgr.shape[:2]) > self.settings.vehicle_pass_min_side:
            vehicles = self.vehicles.find(image_bgr)
            largest = np.argsort(vehicles[:, 0] - vehicles[:, 2])[: self.settings.max_vehicles]
            found += [self._find_in_vehicle(image_bgr, box) for box in vehicles[largest]]
        plates = PlateBoxes.concat(found).nms(self.settings.nms_iou)
        return [r for r in self._read_boxes(image_bgr, plates, 0) if r]

    def _find_in_vehicle(self, frame: np.ndarray, box: np.ndarray) -> PlateBoxes:
        """Plates whose centre lies in `box` (not just in its margin, which may hold a neighbour's)."""
        x1, y1, x2, y2 = box
        if x2 - x1 < self.settings.min_vehicle_width:
            return PlateBoxes.empty()
        mx, my = self.settings.vehicle_margin * (x2 - x1), self.settings.vehicle_margin * (y2 - y1)
        cx1, cy1, cx2, cy2 = _clip((x1 - mx, y1 - my, x2 + mx, y2 + my), frame.shape)
        if cx2 - cx1 < 2 or cy2 - cy1 < 2:
            return PlateBoxes.empty()
        plates = self.detector.detect(frame[cy1:cy2, cx1:cx2]).shifted(cx1, cy1)
        centres = (plates.xyxy[:, :2] + plates.xyxy[:, 2:]) / 2
        inside = np.all((centres >= box[:2]) & (centres <= box[2:]), axis=1)
        return PlateBoxes(plates.xyxy[inside], plates.confidence[inside])

    def _read_boxes(self, image: np.ndarray, plates: PlateBoxes, frame_index: int) -> list[PlateRead | None]:
        """One read per plate box (None where it is skipped or reads empty), one OCR batch."""
        boxes = [_clip(box, image.shape) for box in plates.xyxy]
        kept = [i for i, box in enumerate(boxes) if self._worth_reading(image, box)]
        crops = [self._plate_crops(image, boxes[i]) for i in kept]
        ocr_reads = self.ocr.read([crop for plate in crops for crop in plate])
        bounds = np.cumsum([0, *map(len, crops)])
        out: list[PlateRead | None] = [None] * len(plates)
        for k, i in enumerate(kept):
            variants = [r for r in ocr_reads[bounds[k] : bounds[k + 1]] if r.text]
            if not variants:
                continue
            raw, char_conf = weighted_vote([r.text for r in variants], [r.char_confidence for r in variants])
            text, plate_format = classify(raw, char_conf)
            x1, y1, x2, y2 = boxes[i]
            country, country_confidence = vote_country([(r.region, r.region_prob) for r in variants])
            out[i] = PlateRead(
                text=text,
                char_confidence=char_conf,
                confidence=min(char_conf),
                box=boxes[i],
                frame_index=frame_index,
                format=plate_format,
                raw_text=raw,
                detector_confidence=round(float(plates.confidence[i]), 4),
                country=country,
                country_confidence=country_confidence,
                crop=image[y1:y2, x1:x2].copy(),
            )
        return out

    def _worth_reading(self, image: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        x1, y1, x2, y2 = box
        plate = image[y1:y2, x1:x2]
        why = self.settings.quality.reason_to_skip(plate) if plate.size else "empty"
        if why:
            log.debug("plate at %s skipped: %s", box, why)
        return why is None

    def _plate_crops(self, image: np.ndarray, box: tuple[int, int, int, int]) -> list[np.ndarray]:
        """The plate's shifted crops, and for a small plate those of its second box too."""
        crops = self._shifted_crops(image, box)
        if box[2] - box[0] < self.settings.redetect_below and (second := self._redetected(image, box)):
            crops += self._shifted_crops(image, second)
        return crops

    def _redetected(self, image: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
        """The plate found again by the detector in a small window around it, which the detector's
        letterbox enlarges: a second estimate of a small plate's edges (None if not found)."""
        x1, y1, x2, y2 = box
        mx, my = self.settings.redetect_margin[0] * (x2 - x1), self.settings.redetect_margin[1] * (y2 - y1)
        wx1, wy1, wx2, wy2 = _clip((x1 - mx, y1 - my, x2 + mx, y2 + my), image.shape)
        found = self.detector.detect(image[wy1:wy2, wx1:wx2]).shifted(wx1, wy1)
        if not len(found):
            return None
        overlap = box_iou(found.xyxy, np.asarray(box, np.float32))
        best = int(overlap.argmax())
        return _clip(found.xyxy[best], image.shape) if overlap[best] > self.settings.nms_iou else None

    def _shifted_crops(self, image: np.ndarray, box: tuple[int, int, int, int]) -> list[np.ndarray]:
        """The plate cut out at each of `settings.shifts`, in RGB (the OCR's colour order)."""
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        crops = []
        for dx, dy in self.settings.shifts:
            sx1, sy1, sx2, sy2 = _clip((x1 + dx * w, y1 + dy * h, x2 + dx * w, y2 + dy * h), image.shape)
            crops.append(cv2.cvtColor(image[sy1:sy2, sx1:sx2], cv2.COLOR_BGR2RGB))
        return crops


def _clip(box: Sequence[float], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Round a box to whole pixels inside an image of `shape`."""
    h, w = shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
