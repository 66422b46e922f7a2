"""The OCR alone on small degraded plates: the figure fine-tuning is judged by.

Each plate is cut out on its labelled box (no jitter) at each width, with `draws` fixed
degradation draws per width from the honest distribution (`pipeline.plates.degrade`), so two
models, or two runs, see exactly the same crops. Accuracy is the share of crops read exactly; the
spread is across draws.

>>> ladder = Ladder.of(load_plates(side="validation"))      # doctest: +SKIP
>>> ladder.score(FastPlateOCR(model, config).read).summary()  # doctest: +SKIP
'110 px 95.0% (94.1-96.2)  80 px ...'
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.plates.training.dataset import Plate, clean_crop, sample

WIDTHS = (110, 80, 60, 45)  # issue 14's held-out ladder rungs
DRAWS = 3

# A reader under test: RGB crops in, one text per crop out.
ReadTexts = Callable[[Sequence[np.ndarray]], list[str]]


@dataclass(frozen=True)
class Rung:
    width: int
    accuracy: tuple[float, ...]  # one per draw

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracy))


@dataclass(frozen=True)
class Score:
    rungs: tuple[Rung, ...]

    @property
    def mean(self) -> float:
        return float(np.mean([r.mean for r in self.rungs]))

    def summary(self) -> str:
        return "  ".join(
            f"{r.width} px {r.mean:6.1%} ({min(r.accuracy):.1%}-{max(r.accuracy):.1%})" for r in self.rungs
        )


@dataclass(frozen=True)
class Ladder:
    texts: tuple[str, ...]  # per plate
    crops: dict[tuple[int, int], np.ndarray]  # (width, draw) -> (plates, 64, 128, 3) RGB
    sharp: np.ndarray  # each plate as photographed, (plates, 64, 128, 3) RGB

    @classmethod
    def of(cls, plates: Sequence[Plate], widths: Sequence[int] = WIDTHS, draws: int = DRAWS) -> Ladder:
        crops = {}
        for width in widths:
            for draw in range(draws):
                crops[width, draw] = np.stack(
                    [
                        sample(p, width, np.random.default_rng(zlib.crc32(f"{p.name}@{width}#{draw}".encode())), False)
                        for p in plates
                    ]
                )
        return cls(tuple(p.text for p in plates), crops, np.stack([clean_crop(p) for p in plates]))

    def score(self, read: ReadTexts) -> Score:
        by_width: dict[int, list[float]] = {}
        for (width, _), crops in self.crops.items():
            texts = read(list(crops))
            by_width.setdefault(width, []).append(float(np.mean([t == s for t, s in zip(texts, self.texts)])))
        return Score(tuple(Rung(w, tuple(a)) for w, a in by_width.items()))


def region_agreement(model: str | Path, reference: str | Path, ladder: Ladder) -> dict[int, float]:
    """Per width, the share of crops whose region (country) `model` reads as `reference` reads
    the same plate sharp and full size: how well the country read survives small plates."""
    import onnxruntime

    def regions(path: str | Path, images: np.ndarray) -> np.ndarray:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(["region"], {"input": images})[0].argmax(-1)

    truth = regions(reference, ladder.sharp)
    by_width: dict[int, list[float]] = {}
    for (width, _), crops in ladder.crops.items():
        by_width.setdefault(width, []).append(float(np.mean(regions(model, crops) == truth)))
    return {width: float(np.mean(shares)) for width, shares in by_width.items()}
