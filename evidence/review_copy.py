"""The review copy: H.264 in MP4 that browsers play while it downloads (moov atom first).

>>> with ReviewCopy(Path("review.mp4"), 640, 414, Fraction(25), EvidenceSettings()) as review:  # doctest: +SKIP
...     review.add(bgr)
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from evidence.settings import EvidenceSettings


class ReviewCopy:
    def __init__(self, path: Path, width: int, height: int, rate: Fraction, settings: EvidenceSettings):
        # yuv420p (what browsers decode) needs even dimensions; odd ones get a black edge.
        self.width, self.height = width + width % 2, height + height % 2
        self._out = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self._stream = self._out.add_stream(
            "libx264", rate=rate, options={"crf": str(settings.crf), "preset": settings.preset}
        )
        self._stream.width, self._stream.height, self._stream.pix_fmt = self.width, self.height, "yuv420p"
        self.frames = 0
        self._tick = 1 / rate

    def add(self, bgr: np.ndarray) -> None:
        if bgr.shape[:2] != (self.height, self.width):
            bgr = np.pad(bgr, ((0, self.height - bgr.shape[0]), (0, self.width - bgr.shape[1]), (0, 0)))
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        frame.pts, frame.time_base = self.frames, self._tick
        self._out.mux(self._stream.encode(frame))
        self.frames += 1

    def __enter__(self) -> ReviewCopy:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self._out.mux(self._stream.encode())  # flush the encoder's delayed frames
        self._out.close()
