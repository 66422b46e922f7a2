"""Assemble the benchmark's "night" clip from real footage.

Recipe (kept here so anyone can rebuild and question it):
1. The empty road is the per-pixel median of 60 frames spread over the Shenzhen clip: the scene's
   own background with the traffic removed.
2. Each empty frame is that background plus real camera noise: the residual (frame - background)
   of a real frame, kept only where it is small (|residual| <= 6 grey levels, i.e. sensor noise
   and compression flicker, not vehicles), drawn at random (fixed seed) from 60 such frames.
3. The real clip's traffic, all 1190 frames untouched, is inserted at minutes 2, 9 and 16.
4. Encoded once with libx264 (CRF 23, 25 fps, GOP 50) and cached under var/bench/.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import av
import numpy as np

from pipeline.footage import open_footage

MINUTES = 20
FPS = 25
INSERT_AT_MINUTES = (2, 9, 16)
NOISE_LIMIT = 6
SAMPLES = 60
SEED = 7

log = logging.getLogger(__name__)


def _recipe_id(source: Path) -> str:
    recipe = f"{source.name}|{source.stat().st_size}|{MINUTES}|{FPS}|{INSERT_AT_MINUTES}|{NOISE_LIMIT}|{SAMPLES}|{SEED}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:10]


def night_clip(source: Path, cache: Path) -> Path:
    """Path of the assembled clip, building it the first time (a few minutes on 2 cores)."""
    out = cache / f"night_{MINUTES}min_{_recipe_id(source)}.mp4"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    with open_footage(source) as video:
        real = [bgr for _, bgr in video.frames()]
    picks = np.linspace(0, len(real) - 1, SAMPLES).astype(int)
    stack = np.stack([real[i] for i in picks])
    background = np.median(stack, axis=0).astype(np.int16)
    residuals = stack.astype(np.int16) - background
    residuals[np.abs(residuals) > NOISE_LIMIT] = 0  # vehicles are not noise
    rng = np.random.default_rng(SEED)
    total = MINUTES * 60 * FPS
    inserts = {m * 60 * FPS for m in INSERT_AT_MINUTES}
    log.info("assembling %s (%d frames)", out, total)
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "23", "g": "50", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = real[0].shape[1], real[0].shape[0], "yuv420p"
        index = 0
        while index < total:
            if index in inserts:
                frames = real
            else:
                noisy = background + residuals[rng.integers(SAMPLES)]
                frames = [np.clip(noisy, 0, 255).astype(np.uint8)]
            for bgr in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")))
            index += len(frames)
        container.mux(stream.encode())
    tmp.rename(out)
    return out
