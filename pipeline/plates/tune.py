"""Re-measure the quality gate and the format rules' SURE threshold for an OCR, on the tune half only.

    python -m pipeline.plates.tune                          # the default OCR (v2)
    python -m pipeline.plates.tune --ocr plate_ocr_v1 --ocr-config plate_ocr_v1_config

Every photo on the tune side of `split.split_of` is put on the ladder (`ladder.rung`, one draw per
width, widths down to 35 px so the width gate is tested too) and read with the quality gate off.
Each plate read where the labelled plate is (IoU over 0.3) is kept with its width, sharpness and
raw OCR text. It prints, per sharpness band and per width band, how many crops were read exactly
(the gate should skip only bands where almost nothing is), and, for several SURE values, how many
swaps the format rules make that fix a read and how many that break one. The validation half is
never looked at, so the bench's figures on it stay honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import typer

from pipeline.models import resolve_model
from pipeline.plates import uk_formats
from pipeline.plates.bench import PLATE_SETS, load_photos
from pipeline.plates.detector import YoloPlateDetector, box_iou
from pipeline.plates.ladder import rung
from pipeline.plates.ocr import FastPlateOCR
from pipeline.plates.quality import QualityGate, sharpness
from pipeline.plates.reader import PlateReader, ReaderSettings
from pipeline.plates.vehicles import YoloVehicleFinder

WIDTHS = (110, 80, 60, 45, 35)
SHARPNESS_BANDS = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, np.inf)
WIDTH_BANDS = (0, 30, 35, 40, 45, 55, 70, 100, np.inf)
SURE_VALUES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01)


@dataclass(frozen=True)
class Sample:
    width: int
    sharpness: float
    raw: str
    char_confidence: tuple[float, ...]
    truth: str


def collect(ocr: str, ocr_config: str, limit: int) -> list[Sample]:
    reader = PlateReader(
        YoloPlateDetector(resolve_model("plate_detector")),
        FastPlateOCR(resolve_model(ocr), resolve_model(ocr_config)),
        YoloVehicleFinder(resolve_model("vehicle_detector")),
        ReaderSettings(quality=QualityGate(min_width=0, min_sharpness=0.0)),
    )
    samples = []
    photos = [p for ps in load_photos(PLATE_SETS, limit).values() for p in ps if p.side == "tune"]
    for photo in photos:
        image = cv2.imread(str(PLATE_SETS / photo.set_name / photo.image))
        x, y, w, h = photo.box
        for width in WIDTHS:
            small = rung(image, (x, y, x + w, y + h), width, photo.name, draw=0)
            labelled = np.asarray(small.box, np.float32)
            for read in reader.read_image(small.image):
                if box_iou(np.asarray([read.box], np.float32), labelled)[0] > 0.3 and read.crop is not None:
                    samples.append(Sample(read.box[2] - read.box[0], sharpness(read.crop), read.raw_text,
                                          read.char_confidence, photo.truth))
    print(f"{len(photos)} tune-half photos, widths {WIDTHS}: {len(samples)} plate reads at the labelled plate")
    return samples


def print_bands(samples: list[Sample]) -> None:
    def table(title: str, value, bands) -> None:
        print(f"\n{title}: crops, read exactly (raw OCR after the format rules)")
        for lo, hi in zip(bands[:-1], bands[1:]):
            inside = [s for s in samples if lo <= value(s) < hi]
            right = sum(uk_formats.classify(s.raw, s.char_confidence)[0] == s.truth for s in inside)
            print(f"  [{lo:g}, {hi:g}): {len(inside):4d} crops, {right:4d} read ({right / max(len(inside), 1):.0%})")

    table("sharpness (QualityGate.min_sharpness)", lambda s: s.sharpness, SHARPNESS_BANDS)
    table("width in px (QualityGate.min_width)", lambda s: s.width, WIDTH_BANDS)


def print_sure(samples: list[Sample]) -> None:
    print("\nformat rules: swaps that fix a read / break a read / change a wrong read to another wrong one")
    default = uk_formats.SURE
    try:
        for sure in SURE_VALUES:
            uk_formats.SURE = sure  # classify reads the module's threshold on each call
            fixed = broken = other = 0
            for s in samples:
                text = uk_formats.classify(s.raw, s.char_confidence)[0]
                raw = uk_formats.clean(s.raw)
                if text != raw:
                    fixed += text == s.truth
                    broken += raw == s.truth
                    other += s.truth not in (text, raw)
            print(f"  SURE {sure:<5g} {fixed:4d} fixed {broken:4d} broken {other:4d} other")
    finally:
        uk_formats.SURE = default


def main(
    ocr: str = typer.Option("plate_ocr", help="OCR model: manifest name or path."),
    ocr_config: str = typer.Option("plate_ocr_config", help="OCR config: manifest name or path."),
    limit: int = typer.Option(0, help="Photos per set (0: all)."),
) -> None:
    """Print what the quality gate and the format rules' threshold would do, on the tune half."""
    samples = collect(ocr, ocr_config, limit)
    print_bands(samples)
    print_sure(samples)


if __name__ == "__main__":
    typer.run(main)
