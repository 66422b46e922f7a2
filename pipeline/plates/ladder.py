"""The small-plate ladder: make a photo look like CCTV that gives its plate only a few pixels.

Photo sets have large, sharp plates; cameras over a bus lane give 45-110 pixel plates, smeared by
motion, out of focus, dark or infrared at night, noisy and compressed. `rung` rescales a photo so
its labelled plate is `width` pixels wide and degrades it with settings drawn from the
distribution in `degrade.py`, several draws per photo and width, each from a seed fixed by the
photo, width and draw number: every run sees the same images, and the spread over draws says how
much a figure moves by chance.

`fixed` is the ladder the project used first (one mild degradation: 3 px motion blur, noise sigma
4, JPEG 60). The reader was tuned on it, so it flatters the reader; the bench keeps it as one row
for comparison.

>>> photo = np.full((300, 400, 3), 128, np.uint8)
>>> rung(photo, (100, 100, 200, 130), 60, "a.jpg", draw=0).image.shape
(180, 240, 3)
>>> fixed(photo, labelled_width=100, plate_width=60, seed=1).shape
(180, 240, 3)
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.plates.degrade import Degraded, degrade, motion_kernel

WIDTHS = (110, 80, 60, 45)
DRAWS = 2  # draws per photo and width in `make bench-plates` (its run time scales with this)
FIXED_WIDTHS = (110, 80, 60)


def seed_for(name: str, plate_width: int, draw: int | None = None) -> int:
    """A stable seed per photo, rung and draw (Python's hash() changes between runs); without a
    draw, the fixed ladder's seed."""
    return zlib.crc32(f"{name}@{plate_width}".encode() + (b"" if draw is None else f"#{draw}".encode()))


def rung(image_bgr: np.ndarray, box_xyxy: Sequence[float], width: int, name: str, draw: int) -> Degraded:
    """Draw number `draw` of photo `name` with its plate `width` px wide."""
    return degrade(image_bgr, box_xyxy, width, np.random.default_rng(seed_for(name, width, draw)))


@dataclass(frozen=True)
class Degradation:
    blur_px: int = 3  # motion blur length, in a random direction
    noise_sigma: float = 4.0  # Gaussian sensor noise, grey levels
    jpeg_quality: int = 60


def fixed(
    image_bgr: np.ndarray, labelled_width: float, plate_width: int, seed: int, how: Degradation = Degradation()
) -> np.ndarray:
    """The first, fixed ladder: the same mild degradation for every photo."""
    rng = np.random.default_rng(seed)
    scale = plate_width / labelled_width
    # INTER_AREA when shrinking, as a camera's sensor averages; it aliases less than linear.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(image_bgr, None, fx=scale, fy=scale, interpolation=interpolation)
    image = cv2.filter2D(image, -1, motion_kernel(how.blur_px, rng.uniform(0, 180)))
    noisy = image + rng.normal(0, how.noise_sigma, image.shape)
    image = np.clip(noisy, 0, 255).astype(np.uint8)
    _, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, how.jpeg_quality])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
