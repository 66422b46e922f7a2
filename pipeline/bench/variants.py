"""Degraded copies of the lane benchmark's clips: the same traffic as other cameras would record it.

The held-out cameras differ from ours in resolution, frame rate and light, so `buslane bench lanes
--variant NAME` re-runs the labelled clips as such cameras would give them, the labels carried over:

* ``half``: half the resolution (clips 640 px wide and more: a 352x288 camera halved is no camera),
  the site's drawing halved with it;
* ``double`` and ``1080p``: the other way, as a sharper camera would frame the same scene: clips
  under 1280 px wide at twice the size (640x360 as 1280x720, 352x288 as 704x576), the 720p clips at
  1920x1080. Upscaled, so no detail is added: what these show is whether any setting counted in
  pixels (margins, distances, motion areas) stops working on a larger frame;
* ``lowfps``: every second frame kept (12.5 fps; 15 on the motorway), label frames divided by two;
* ``night``: an infrared-like night: grey, low contrast, darker, sensor noise (sigma 6) and heavy
  compression (CRF 32);
* ``dim``: dusk, fog or a dirty lens: colours kept, contrast cut to a sixth, no noise. Vehicles stay
  plain to the detector but change the picture by less than the motion test's threshold.

Each copy is encoded once with libx264 and kept under the cache folder, named by its recipe.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from pipeline.footage import open_footage
from pipeline.site import SiteConfig

NOISE_SEED = 13
DIM_MEAN = 60  # the grey level mid-grey becomes in the dim copy


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    scale: float = 1.0
    frame_step: int = 1  # keep every n-th frame
    night: bool = False
    contrast: float = 1.0  # grey levels kept around a dark mean (dusk, fog)
    crf: int = 20
    min_width: int = 0  # only clips at least this wide
    max_width: int | None = None  # and at most this wide

    def applies_to(self, source: Path) -> bool:
        with open_footage(source) as video:
            return self.min_width <= video.info.width <= (self.max_width or video.info.width)

    def frames(self, first: int, last: int) -> tuple[int, int]:
        """A labelled range of source frames as the copy's frame numbers."""
        a, b = math.ceil(first / self.frame_step), last // self.frame_step
        return (min(a, b), b)

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The copy's frame size: scaled, and even (yuv420p needs it)."""
        return round(width * self.scale / 2) * 2, round(height * self.scale / 2) * 2

    def site(self, site: SiteConfig) -> SiteConfig:
        """The site drawn on the copy's frames: every pixel coordinate and pixel threshold scaled."""
        if self.scale == 1:
            return site
        k = self.scale

        def pts(points):
            return [(x * k, y * k) for x, y in points]

        t = site.thresholds
        update = {
            "lanes": [pts(p) for p in site.lanes],
            "centreline": pts(site.centreline),
            "exemption_zones": [pts(p) for p in site.exemption_zones],
            "ignore_zones": [pts(p) for p in site.ignore_zones],
            "frame_size": None if site.frame_size is None else self.size(*site.frame_size),
            "thresholds": t.model_copy(update={
                "min_distance_px": None if t.min_distance_px is None else t.min_distance_px * k,
                "rider_min_speed_px_s": None if t.rider_min_speed_px_s is None else t.rider_min_speed_px_s * k,
            }),
        }
        if site.calibration is not None:
            update["calibration"] = site.calibration.model_copy(update={"image": pts(site.calibration.image)})
        # Validated again, as a site file drawn at this size would be.
        return SiteConfig.model_validate({**site.model_dump(), **update})

    def recipe_id(self, source: Path) -> str:
        recipe = f"{source.name}|{source.stat().st_size}|{self}|{NOISE_SEED}"
        return hashlib.sha256(recipe.encode()).hexdigest()[:10]


VARIANTS = {
    v.name: v
    for v in (
        Variant("half", "half the resolution (cameras 640 px wide and more)", scale=0.5, min_width=640),
        Variant("double", "twice the resolution (cameras under 1280 px wide), upscaled", scale=2.0, max_width=1279),
        Variant("1080p", "the 720p cameras at 1920x1080, upscaled", scale=1.5, min_width=1280),
        Variant("lowfps", "every second frame (12.5 fps; 15 on the motorway)", frame_step=2),
        Variant("night", "infrared-like night: grey, dark, low contrast, noise sigma 6, CRF 32", night=True, crf=32),
        Variant("dim", "dusk or fog: colours kept, contrast cut to a sixth", contrast=1 / 6),
    )
}


def _night(bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
    dark = 20 + 130 * grey**1.5  # blacks lifted, whites dimmed, shadows crushed
    noisy = dark + rng.normal(0, 6, dark.shape).astype(np.float32)
    return cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def dim(bgr: np.ndarray, contrast: float) -> np.ndarray:
    """Dusk, fog or a dirty lens: grey levels squeezed to `contrast` of their spread around a dark mean."""
    return np.clip(DIM_MEAN + contrast * (bgr.astype(np.float32) - 128), 0, 255).astype(np.uint8)


def degraded_clip(source: Path, variant: Variant, cache: Path) -> Path:
    """Path of the variant's copy of `source`, encoding it the first time."""
    out = cache / f"{source.stem}.{variant.name}.{variant.recipe_id(source)}.mp4"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.mp4")
    rng = np.random.default_rng(NOISE_SEED)
    with open_footage(source) as src, av.open(str(partial), "w") as dst:
        rate = Fraction(src.info.fps).limit_denominator(1001) / variant.frame_step
        stream = dst.add_stream("libx264", rate=rate)
        stream.width, stream.height = variant.size(src.info.width, src.info.height)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(variant.crf)}
        for index, bgr in src.frames():
            if index % variant.frame_step:
                continue
            if variant.scale != 1:
                shrink = variant.scale < 1
                bgr = cv2.resize(bgr, (stream.width, stream.height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
            if variant.night:
                bgr = _night(bgr, rng)
            if variant.contrast != 1:
                bgr = dim(bgr, variant.contrast)
            frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
            frame.pts = index // variant.frame_step  # frame numbers stay those of the labels
            dst.mux(stream.encode(frame))
        dst.mux(stream.encode())
    partial.rename(out)
    return out
