"""Still images: an overview of the vehicle in the lane, and a close-up of its plate (or of the
vehicle when no plate was read), each with the data bar, saved as PNG with the facts as text chunks.

Close-ups are enlarged by a whole factor with nearest-neighbour sampling: every recorded pixel
becomes a square block, nothing is interpolated or sharpened.

>>> still = overview(frame_bgr, stamp, site, boxes.at(stamp.frame))  # doctest: +SKIP
>>> write_png(Path("overview.png"), still.image, still.text)  # doctest: +SKIP
>>> read_png_text(Path("overview.png"))["Frame"]  # doctest: +SKIP
'1040'
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from evidence.databar import FONT, Stamp, add_bar
from evidence.overlays import draw_scene
from evidence.track import Box, Observation
from pipeline.site import SiteConfig

LABEL = (0, 255, 255)  # yellow header text, so a close-up is never mistaken for a full frame


@dataclass(frozen=True)
class Still:
    image: np.ndarray = field(repr=False)
    frame: int
    info: dict  # what metadata.json and the PNG text chunks record about the still

    @property
    def text(self) -> dict[str, str]:
        return {k.capitalize(): ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
                for k, v in self.info.items()}


def overview(frame_bgr: np.ndarray, stamp: Stamp, site: SiteConfig, vehicle: Observation | None) -> Still:
    """The whole frame with the lane and vehicle outlined, and the data bar."""
    image = add_bar(draw_scene(frame_bgr.copy(), site, vehicle), stamp)
    info = {"kind": "overview", "frame": stamp.frame, "time": stamp.when.isoformat(),
            "box": list(vehicle.box) if vehicle else None}
    return Still(image, stamp.frame, info)


def close_up(frame_bgr: np.ndarray, stamp: Stamp, box: Box, kind: str, label: str, detail: str) -> Still:
    """`box` (plate or vehicle) with a margin, enlarged to fill a frame-sized canvas under a header.

    kind is "plate" or "vehicle"; label and detail are the header's two lines.
    """
    height, width = frame_bgr.shape[:2]
    margin = 0.5 if kind == "plate" else 0.1
    crop = _expand(box, margin, width, height)
    x1, y1, x2, y2 = crop
    scale = max(1, min(width // (x2 - x1), height // (y2 - y1)))
    enlarged = cv2.resize(frame_bgr[y1:y2, x1:x2], None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    unit = max(1, width // 640)
    header = 44 * unit
    canvas = np.zeros((header + height, width, 3), np.uint8)
    ox = (width - enlarged.shape[1]) // 2
    oy = header + (height - enlarged.shape[0]) // 2
    canvas[oy:oy + enlarged.shape[0], ox:ox + enlarged.shape[1]] = enlarged
    for text, y in ((f"{label}: frame {stamp.frame}, enlarged x{scale} (whole pixels, not enhanced)", 18), (detail, 36)):
        text = text.encode("ascii", "replace").decode()
        cv2.putText(canvas, text, (8 * unit, y * unit), FONT, 0.45 * unit, LABEL, unit, cv2.LINE_AA)
    info = {"kind": "closeup", "subject": kind, "frame": stamp.frame, "time": stamp.when.isoformat(), "box": list(box),
            "crop": list(crop), "scale": scale, "origin": [ox, oy], "label": label, "detail": detail}
    return Still(add_bar(canvas, stamp), stamp.frame, info)


def _expand(box: Box, margin: float, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    mx = max(8, round((x2 - x1) * margin))
    my = max(8, round((y2 - y1) * margin))
    return max(0, x1 - mx), max(0, y1 - my), min(width, x2 + mx), min(height, y2 + my)


def write_png(path: Path, image: np.ndarray, text: dict[str, str]) -> None:
    """Save as PNG with each item of `text` as an iTXt chunk (UTF-8 keyword/value)."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"{path}: PNG encoding failed")
    data = encoded.tobytes()
    end = data.rindex(b"IEND") - 4  # the IEND chunk starts with its 4-byte length
    chunks = b"".join(_chunk(b"iTXt", k.encode("latin-1") + b"\0\0\0\0\0" + v.encode()) for k, v in text.items())
    path.write_bytes(data[:end] + chunks + data[end:])


def read_png_text(path: Path) -> dict[str, str]:
    data = path.read_bytes()
    pos, text = 8, {}
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"iTXt":
            key, rest = body.split(b"\0", 1)
            text[key.decode("latin-1")] = rest[2:].split(b"\0", 2)[2].decode()
        pos += 12 + length
    return text


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
