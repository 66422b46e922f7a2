"""The small-plate ladder: make a photo look like CCTV that gives its plate only a few pixels.

Photo sets have large, sharp plates; cameras over a bus lane give 50-100 pixel plates, smeared by
motion and compressed. `degrade` rescales a photo so its labelled plate is `plate_width` pixels
wide, then adds slight motion blur, sensor noise and JPEG compression, all from a fixed seed so
every run sees the same images.

>>> photo = np.full((300, 400, 3), 128, np.uint8)
>>> degrade(photo, labelled_width=100, plate_width=60, seed=1).shape
(180, 240, 3)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

WIDTHS = (110, 80, 60)


@dataclass(frozen=True)
class Degradation:
    blur_px: int = 3  # motion blur length, in a random direction
    noise_sigma: float = 4.0  # Gaussian sensor noise, grey levels
    jpeg_quality: int = 60


def seed_for(name: str, plate_width: int) -> int:
    """A stable seed per photo and rung (Python's hash() changes between runs)."""
    return zlib.crc32(f"{name}@{plate_width}".encode())


def degrade(
    image_bgr: np.ndarray, labelled_width: float, plate_width: int, seed: int, how: Degradation = Degradation()
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = plate_width / labelled_width
    # INTER_AREA when shrinking, as a camera's sensor averages; it aliases less than linear.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(image_bgr, None, fx=scale, fy=scale, interpolation=interpolation)
    image = cv2.filter2D(image, -1, _motion_kernel(how.blur_px, rng.uniform(0, 180)))
    noisy = image + rng.normal(0, how.noise_sigma, image.shape)
    image = np.clip(noisy, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, how.jpeg_quality])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def _motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised line of `length` pixels at `angle_deg`."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1
    centre = ((length - 1) / 2, (length - 1) / 2)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, angle_deg, 1.0), (length, length))
    return kernel / kernel.sum()
