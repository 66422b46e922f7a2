"""CCTV-like degradation drawn from a distribution: what a bus-lane camera does to a plate.

Photo sets have large, sharp, well-lit plates. `degrade` rescales a photo (or a crop) so that its
plate is `width` pixels wide and then, with every setting drawn per sample from the caller's
`numpy.random.Generator`:

* downscaling by area averaging or bilinear interpolation (a sensor averages; a scaler may not);
* motion blur 1-6 px at any angle, vertical included (vehicles move towards the camera too);
* defocus, a disc blur, on about half the samples;
* lighting: day (as shot), low-contrast night, or infrared-like greyscale;
* Gaussian sensor noise, sigma 2-8 grey levels;
* JPEG compression at quality 30-70.

The same generator state gives the same image, so a fixed seed reproduces a ladder or a training
set. Works on BGR or RGB alike: nothing depends on the channel order.

>>> rng = np.random.default_rng(1)
>>> photo = np.full((300, 400, 3), 128, np.uint8)
>>> out = degrade(photo, (100, 100, 200, 130), 60, rng)
>>> out.image.shape, out.box
((180, 240, 3), (60.0, 60.0, 120.0, 78.0))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

Lighting = Literal["day", "night", "infrared"]
LIGHTING: tuple[Lighting, ...] = ("day", "night", "infrared")
LIGHTING_ODDS = (0.6, 0.2, 0.2)  # most footage is daytime; night and IR each a fifth


@dataclass(frozen=True)
class Draw:
    """One sample's settings (reported by the bench, reproducible from them alone)."""

    blur_px: int  # motion blur length; 1 is none
    blur_angle: float  # degrees, 0 horizontal, 90 vertical
    defocus_radius: float  # disc blur radius in pixels; 0 is none
    noise_sigma: float  # grey levels
    jpeg_quality: int
    interpolation: Literal["area", "linear"]
    lighting: Lighting
    contrast: float  # night and infrared: the scene's contrast scaled by this
    brightness: float  # night and infrared: grey level the scaled scene is centred on


@dataclass(frozen=True)
class Degraded:
    image: np.ndarray  # same channel order as the input, uint8
    box: tuple[float, float, float, float]  # the plate (x1, y1, x2, y2) in `image`'s pixels
    draw: Draw


def draw(rng: np.random.Generator) -> Draw:
    """Draw one sample's settings; the order of draws is fixed, so a seed always gives the same."""
    lighting = LIGHTING[rng.choice(len(LIGHTING), p=LIGHTING_ODDS)]
    return Draw(
        blur_px=int(rng.integers(1, 7)),
        blur_angle=float(rng.uniform(0, 180)),
        defocus_radius=float(rng.uniform(0.5, 1.5)) if rng.random() < 0.5 else 0.0,
        noise_sigma=float(rng.uniform(2, 8)),
        jpeg_quality=int(rng.integers(30, 71)),
        interpolation="area" if rng.random() < 0.5 else "linear",
        lighting=lighting,
        # Night: dim and flat (headlights aside); infrared: the plate's reflection keeps it brighter.
        contrast=float(rng.uniform(0.25, 0.55) if lighting == "night" else rng.uniform(0.5, 0.9)),
        brightness=float(rng.uniform(35, 80) if lighting == "night" else rng.uniform(90, 150)),
    )


def degrade(
    image: np.ndarray, box_xyxy: Sequence[float], width: int, rng: np.random.Generator
) -> Degraded:
    """`image` rescaled so the plate at `box_xyxy` is `width` px wide, degraded by a fresh draw."""
    return apply(image, box_xyxy, width, draw(rng), rng)


def apply(
    image: np.ndarray, box_xyxy: Sequence[float], width: int, how: Draw, rng: np.random.Generator
) -> Degraded:
    """Degrade with given settings; `rng` only supplies the noise."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"degrade needs a uint8 colour image (H, W, 3), got {image.dtype} {image.shape}")
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    if x2 <= x1:
        raise ValueError(f"degrade needs a plate box with x2 > x1, got {tuple(box_xyxy)}")
    scale = width / (x2 - x1)
    interpolation = cv2.INTER_AREA if how.interpolation == "area" and scale < 1 else cv2.INTER_LINEAR
    out = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
    out = cv2.filter2D(out, -1, motion_kernel(how.blur_px, how.blur_angle), borderType=cv2.BORDER_REFLECT)
    if how.defocus_radius:
        out = cv2.filter2D(out, -1, disc_kernel(how.defocus_radius), borderType=cv2.BORDER_REFLECT)
    scene = out.astype(np.float32)
    if how.lighting == "infrared":
        # Monochrome sensor: one grey level in all three channels (mean: channel order free).
        scene = np.repeat(scene.mean(axis=2, keepdims=True), 3, axis=2)
    if how.lighting != "day":
        scene = (scene - scene.mean()) * how.contrast + how.brightness
    scene += rng.standard_normal(scene.shape, dtype=np.float32) * how.noise_sigma
    out = np.clip(scene, 0, 255).astype(np.uint8)
    _, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, how.jpeg_quality])
    return Degraded(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), (x1 * scale, y1 * scale, x2 * scale, y2 * scale), how)


def motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised line of `length` pixels at `angle_deg` (length 1: no blur)."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1
    centre = ((length - 1) / 2, (length - 1) / 2)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, angle_deg, 1.0), (length, length))
    return kernel / kernel.sum()


def disc_kernel(radius: float) -> np.ndarray:
    """A normalised disc of `radius` pixels, its rim anti-aliased so small radii still differ."""
    half = int(np.ceil(radius))
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    kernel = np.clip(radius + 0.5 - np.hypot(x, y), 0, 1).astype(np.float32)
    return kernel / kernel.sum()
