"""The data bar burned into every review frame and still: date, time, camera, location, frame number.

The bar is added *below* the picture, so no recorded pixel is covered. Besides the text it carries
the frame number as a row of black and white cells (a start pair, then 32 bits, most significant
first), large enough to survive H.264, so tests and tools can read the number back from pixels.

>>> from datetime import datetime; from zoneinfo import ZoneInfo
>>> stamp = Stamp(datetime(2016, 3, 18, 12, 21, 31, tzinfo=ZoneInfo("Europe/London")), "SZ-1", "High St", 153)
>>> stamp.lines()[0]
'2016-03-18 12:21:31 GMT (UTC+00:00)   camera SZ-1   frame 153'
>>> read_frame_code(add_bar(np.zeros((360, 640, 3), np.uint8), stamp))
153
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
BITS = 32
START = (1, 0)  # guard cells: a bar without them has no code
MIN_WIDTH = 320


@dataclass(frozen=True)
class Stamp:
    when: datetime  # aware, in the site's timezone
    camera_id: str
    location: str
    frame: int      # frame number in the original recording

    def lines(self) -> tuple[str, str]:
        offset = self.when.strftime("%z")
        first = (f"{self.when:%Y-%m-%d %H:%M:%S} {self.when.tzname()} (UTC{offset[:3]}:{offset[3:]})"
                 f"   camera {self.camera_id}   frame {self.frame}")
        # Hershey fonts draw ASCII only; anything else is shown as '?' (metadata.json has the text).
        return _ascii(first), _ascii(self.location)


@dataclass(frozen=True)
class _Layout:
    unit: int

    @property
    def height(self) -> int:
        return 54 * self.unit

    @property
    def baselines(self) -> tuple[int, int]:
        return 18 * self.unit, 36 * self.unit

    @property
    def cell(self) -> int:
        return 8 * self.unit

    @property
    def code_top(self) -> int:
        return 42 * self.unit

    def cell_x(self, i: int) -> int:
        return self.cell + i * self.cell


def _layout(width: int) -> _Layout:
    if width < MIN_WIDTH:
        raise ValueError(f"a data bar needs an image at least {MIN_WIDTH} px wide, got {width}")
    return _Layout(max(1, width // 640))


def bar_height(width: int) -> int:
    return _layout(width).height


def add_bar(image: np.ndarray, stamp: Stamp) -> np.ndarray:
    """A new image: `image` with the data bar below it (same width)."""
    width = image.shape[1]
    lay = _layout(width)
    bar = np.zeros((lay.height, width, 3), np.uint8)
    for text, y in zip(stamp.lines(), lay.baselines):
        scale = _fit(text, 0.5 * lay.unit, lay.unit, width - 2 * lay.cell)
        cv2.putText(bar, text, (lay.cell, y), FONT, scale, (255, 255, 255), lay.unit, cv2.LINE_AA)
    bits = START + tuple((stamp.frame >> (BITS - 1 - i)) & 1 for i in range(BITS))
    for i, bit in enumerate(bits):
        x = lay.cell_x(i)
        bar[lay.code_top:lay.code_top + lay.cell, x:x + lay.cell] = 255 if bit else 64  # grey 0s: visibly a code
    label_x = lay.cell_x(len(bits)) + lay.cell
    cv2.putText(bar, "frame number (binary)", (label_x, lay.code_top + lay.cell), FONT, 0.35 * lay.unit,
                (160, 160, 160), lay.unit, cv2.LINE_AA)
    return np.vstack([image, bar])


def read_frame_code(image: np.ndarray) -> int:
    """The frame number coded in an image's data bar (raises ValueError when there is none)."""
    lay = _layout(image.shape[1])
    bar = image[-lay.height:]
    gray = bar.mean(axis=2) if bar.ndim == 3 else bar
    q = lay.cell // 4  # sample the middle of each cell, away from codec ringing at its edges
    y = lay.code_top + lay.cell // 2
    bits = [int(gray[y - q:y + q, lay.cell_x(i) + q:lay.cell_x(i) + 3 * q].mean() > 127)
            for i in range(len(START) + BITS)]
    if tuple(bits[:len(START)]) != START:
        raise ValueError("no frame code in the image's data bar")
    return int("".join(map(str, bits[len(START):])), 2)


def _fit(text: str, scale: float, thickness: int, width: int) -> float:
    while cv2.getTextSize(text, FONT, scale, thickness)[0][0] > width and scale > 0.2:
        scale *= 0.9
    return scale


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode()
