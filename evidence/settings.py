"""How evidence is cut and encoded, and where it is kept.

>>> EvidenceSettings(pre_seconds=5).post_seconds
3.0
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "BUSLANE_EVIDENCE"
DEFAULT_ROOT = Path("var/evidence")


class EvidenceError(RuntimeError):
    """Evidence cannot be written for a case; the message names the case and the reason."""


@dataclass(frozen=True)
class EvidenceSettings:
    pre_seconds: float = 3.0   # footage kept before the vehicle enters the lane
    post_seconds: float = 3.0  # and after it leaves
    crf: int = 18              # review copy quality: visually lossless for 640x360 CCTV
    preset: str = "veryfast"   # keeps encoding well under the batch's detection time on 2 cores

    def __post_init__(self) -> None:
        if self.pre_seconds < 0 or self.post_seconds < 0:
            raise ValueError("pre_seconds and post_seconds must not be negative")


def default_root() -> Path:
    """$BUSLANE_EVIDENCE, else var/evidence relative to the working directory."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
