"""Training crops for the plate OCR, made from the developer-side photo sets (tune half only).

Each sample is one labelled plate seen as a bus-lane camera would see it: the photo's
neighbourhood of the plate is rescaled so the plate is 40-130 px wide and degraded with a fresh
draw of `pipeline.plates.degrade` (the honest ladder's distribution), then the plate is cut out
with a box shifted and scaled a little, as the plate detector's boxes and the reader's shifted
crops are, and resized to the OCR's 128x64 input with linear interpolation, as fast-plate-ocr
does. Labels are the bench's (`LABEL_FIXES` applied); a validation plate can never be loaded.

>>> plates = load_plates(PLATE_SETS)                     # doctest: +SKIP
>>> train, held_back = split_held_back(plates)           # doctest: +SKIP
>>> images, targets = make_batch(train[:8], np.random.default_rng(0))  # doctest: +SKIP
>>> images.shape, targets.shape                          # doctest: +SKIP
((8, 64, 128, 3), (8, 10))
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.plates.bench import PLATE_SETS, load_photos
from pipeline.plates.degrade import degrade
from pipeline.plates.split import plate_key, split_of

# fast-plate-ocr's cct_xs_v2_global plate config (max_plate_slots, alphabet, pad_char, img_*).
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
PAD = "_"
SLOTS = 10
HEIGHT, WIDTH = 64, 128

MIN_WIDTH, MAX_WIDTH = 40, 130  # plate widths trained on, px: CCTV sizes around the ladder's rungs
# Box jitter, as fractions of the plate box: the reader's own shifts reach 4% of the width and 10%
# of the height, and the detector's boxes are a little loose or tight on top of that.
SHIFT_X, SHIFT_Y = 0.05, 0.12
SCALE_X, SCALE_Y = (0.92, 1.10), (0.90, 1.15)
# Neighbourhood kept around each plate, in plate widths / heights per side: room for the jitter
# and for the degradation's blur to see the plate's real surroundings.
MARGIN_X, MARGIN_Y = 0.5, 1.0
HELD_BACK_SHARE = 1 / 6  # of the tune plates, watched for early stopping and never trained on


@dataclass(frozen=True)
class Plate:
    """One labelled plate, with the part of its photo around it (BGR)."""

    name: str  # set/image
    text: str  # label with the bench's LABEL_FIXES applied
    image: np.ndarray  # the neighbourhood, BGR uint8
    box: tuple[float, float, float, float]  # the plate (x1, y1, x2, y2) in `image`


def encode(text: str) -> np.ndarray:
    """Slot targets: one alphabet index per slot, short plates padded with the pad character."""
    if not text or len(text) > SLOTS or any(c not in ALPHABET[:-1] for c in text):
        raise ValueError(f"plate {text!r} is not 1-{SLOTS} characters of {ALPHABET[:-1]}")
    return np.array([ALPHABET.index(c) for c in text.ljust(SLOTS, PAD)], np.int64)


def load_plates(root: Path = PLATE_SETS, side: str = "tune") -> list[Plate]:
    """Every labelled plate of `side` ("tune" for training) in the photo sets under `root`."""
    plates = []
    for set_name, photos in load_photos(root).items():
        for photo in photos:
            if split_of(photo.truth) != side:
                continue
            labels, path = root / set_name / "labels.csv", root / set_name / photo.image
            try:
                encode(photo.truth)
            except ValueError as error:
                raise ValueError(f"{labels}, row {photo.image}, field plate: {error}") from None
            image = cv2.imread(str(path))
            if image is None:
                raise ValueError(f"{path}: not a readable image (labelled in {labels})")
            plates.append(_neighbourhood(f"{set_name}/{photo.image}", photo.truth, image, photo.box))
    return plates


def _neighbourhood(name: str, text: str, image: np.ndarray, box_xywh: Sequence[float]) -> Plate:
    x, y, w, h = box_xywh
    if w <= 0 or h <= 0:
        raise ValueError(f"{name}: plate box {tuple(box_xywh)} has no area")
    nx1, ny1 = max(int(x - MARGIN_X * w), 0), max(int(y - MARGIN_Y * h), 0)
    nx2 = min(int(np.ceil(x + w + MARGIN_X * w)), image.shape[1])
    ny2 = min(int(np.ceil(y + h + MARGIN_Y * h)), image.shape[0])
    return Plate(name, text, image[ny1:ny2, nx1:nx2].copy(), (x - nx1, y - ny1, x + w - nx1, y + h - ny1))


def split_held_back(plates: Sequence[Plate]) -> tuple[list[Plate], list[Plate]]:
    """(train, held back): a fixed sixth of the tune plates, by plate, for early stopping."""
    held = [_hash_share(p.text) < HELD_BACK_SHARE for p in plates]
    return [p for p, h in zip(plates, held) if not h], [p for p, h in zip(plates, held) if h]


def _hash_share(text: str) -> float:
    """A stable number in [0, 1) per plate (labels' O/0 and I/1 alike), independent of split's."""
    return hashlib.sha256(("held-back:" + plate_key(text)).encode()).digest()[0] / 256


def sample(plate: Plate, width: int, rng: np.random.Generator, jitter: bool = True) -> np.ndarray:
    """The plate at `width` px, degraded, cut out (jittered unless told not to): RGB 64x128."""
    degraded = degrade(plate.image, plate.box, width, rng)
    x1, y1, x2, y2 = degraded.box
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    if jitter:
        cx += rng.uniform(-SHIFT_X, SHIFT_X) * w
        cy += rng.uniform(-SHIFT_Y, SHIFT_Y) * h
        w *= rng.uniform(*SCALE_X)
        h *= rng.uniform(*SCALE_Y)
    # Whole pixels inside the image, as the reader cuts its crops.
    height, full_width = degraded.image.shape[:2]
    cx1, cy1 = max(int(round(cx - w / 2)), 0), max(int(round(cy - h / 2)), 0)
    cx2, cy2 = min(int(round(cx + w / 2)), full_width), min(int(round(cy + h / 2)), height)
    crop = cv2.cvtColor(degraded.image[cy1:cy2, cx1:cx2], cv2.COLOR_BGR2RGB)
    return cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)


def clean_crop(plate: Plate) -> np.ndarray:
    """The plate as photographed, cut on its labelled box: RGB 64x128."""
    x1, y1, x2, y2 = (int(round(v)) for v in plate.box)
    return cv2.resize(cv2.cvtColor(plate.image[y1:y2, x1:x2], cv2.COLOR_BGR2RGB), (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)


def make_batch(plates: Sequence[Plate], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One training batch: each plate once at a random width, (N, 64, 128, 3) uint8 and (N, 10)."""
    widths = rng.integers(MIN_WIDTH, MAX_WIDTH + 1, len(plates))
    images = np.stack([sample(p, int(w), rng) for p, w in zip(plates, widths)])
    return images, np.stack([encode(p.text) for p in plates])
