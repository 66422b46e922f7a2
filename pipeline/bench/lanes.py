"""`buslane bench lanes`: the lane decisions against vehicles labelled by eye on six cameras' clips.

Each clip of ../shared/data/footage has a label file in tests/labels/ (`clip`, `site`, `split`,
`lane`, `vehicles`: every vehicle that enters the lane, its frames in the lane, its verdict and
class) and a site file. For every clip, in one run, the bench runs `buslane process`'s analysis
(pipeline.analysis.Analyser, plate reading off: it never changes a lane decision) and the baseline
of `buslane bench speed` (ultralytics `model.track` on every whole frame, the same lane rules), and
scores the contraventions each found:

* recall: labelled `along` vehicles of a class the site does not exempt, matched by a contravention;
* false positives: contraventions that match no such vehicle, nor an `unsure` one (a contravention
  on a `crossing` or `stationary` vehicle, or on an exempt one, is a false positive).

A contravention matches a labelled vehicle when their frame ranges overlap by at least half of the
shorter range; each vehicle and each contravention is matched at most once (see `score`).
Clips are split `tune` / `validation` so that what is tuned on one half can be reported on the other.
With `variants` (pipeline/bench/variants.py) the same is run again on degraded copies of the clips
(half the resolution, half the frame rate, an infrared-like night), each copy in its clip's split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.bench.speed import baseline, process
from pipeline.bench.variants import Variant, degraded_clip
from pipeline.models import PROJECT_ROOT, resolve_model
from pipeline.site import VEHICLE_CLASSES, SiteConfig, load_site
from pipeline.yaml_settings import load_settings

LABELS = PROJECT_ROOT / "tests" / "labels"
FOOTAGE = PROJECT_ROOT.parent / "shared" / "data" / "footage"
SPLITS = ("tune", "validation")
VARIANT_CACHE = PROJECT_ROOT / "var" / "bench" / "variants"

Span = tuple[int, int]


class LabelError(ValueError):
    """A label file is unreadable or invalid; the message names the file and each bad field."""


class Vehicle(BaseModel):
    """One vehicle that entered the lane, as seen by eye."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    frames: tuple[int, int] = Field(description="first and last frame in the lane")
    verdict: Literal["along", "crossing", "stationary", "unsure"]
    vehicle_class: Literal[VEHICLE_CLASSES] = Field(alias="class")  # type: ignore[valid-type]
    description: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self):
        if not 0 <= self.frames[0] <= self.frames[1]:
            raise ValueError(f"frames {list(self.frames)} must be [first, last] with 0 <= first <= last")
        return self


class ClipLabels(BaseModel):
    # Other keys are allowed: shenzhen.yaml also holds tests/test_lane_rules.py's own labels.
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    clip: Path
    site: Path
    split: Literal[SPLITS]  # type: ignore[valid-type]
    lane: str = Field(min_length=1, description="a real bus lane, or how the lane was drawn")
    vehicles: tuple[Vehicle, ...]


def load_labels(path: str | Path) -> ClipLabels:
    """Read one label file; `clip` is a file in ../shared/data/footage, `site` is relative to the label file."""
    path = Path(path)
    labels = load_settings(path, ClipLabels, LabelError, "labels", extra={"name": path.stem})
    return labels.model_copy(update={"clip": FOOTAGE / labels.clip, "site": (path.parent / labels.site).resolve()})


def all_labels(folder: Path = LABELS) -> list[ClipLabels]:
    return [load_labels(p) for p in sorted(folder.glob("*.yaml"))]


@dataclass(frozen=True)
class Score:
    labelled: int  # `along` vehicles of a class the site does not exempt
    found: int
    false_positives: tuple[Span, ...]
    missed: tuple[Vehicle, ...]

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0


def matches(a: Span, b: Span) -> bool:
    """Frame ranges overlap by at least half of the shorter one (ranges include both ends)."""
    overlap = min(a[1], b[1]) - max(a[0], b[0]) + 1
    return overlap * 2 >= min(a[1] - a[0], b[1] - b[0]) + 1


def score(spans: list[Span] | tuple[Span, ...], vehicles: tuple[Vehicle, ...], exempt_classes: list[str]) -> Score:
    """Match contraventions to labelled vehicles, each used at most once.

    Greedy, as detection benchmarks match: `along` non-exempt vehicles first (so a contravention
    that could go to either never hides a found vehicle behind an `unsure` one), then `unsure`
    ones; within each, the pairs that overlap most first. Everything left over is a false positive.
    """
    wanted = [i for i, v in enumerate(vehicles) if v.verdict == "along" and v.vehicle_class not in exempt_classes]
    unsure = [i for i, v in enumerate(vehicles) if v.verdict == "unsure"]
    used: set[int] = set()  # contraventions matched so far

    def assign(group: list[int]) -> set[int]:
        pairs = sorted(
            ((min(s[1], vehicles[i].frames[1]) - max(s[0], vehicles[i].frames[0]), j, i)
             for j, s in enumerate(spans) for i in group if matches(s, vehicles[i].frames)),
            reverse=True,
        )
        taken: set[int] = set()
        for _, j, i in pairs:
            if j not in used and i not in taken:
                used.add(j)
                taken.add(i)
        return taken

    found = assign(wanted)
    assign(unsure)
    return Score(
        labelled=len(wanted),
        found=len(found),
        false_positives=tuple(s for j, s in enumerate(spans) if j not in used),
        missed=tuple(vehicles[i] for i in wanted if i not in found),
    )


@dataclass(frozen=True)
class ClipResult:
    labels: ClipLabels
    process: Score
    baseline: Score | None


def bench_site(labels: ClipLabels, detector: str | None = None) -> SiteConfig:
    """The clip's site, with `detector` instead of its own model if given, plate reading off."""
    site = load_site(labels.site)
    update = {"plates": site.plates.model_copy(update={"enabled": False})}
    if detector:
        update["detection"] = site.detection.model_copy(update={"model": detector})
    return site.model_copy(update=update)


def run_clip(labels: ClipLabels, detector: str | None = None, with_baseline: bool = True,
             variant: Variant | None = None, cache: Path = VARIANT_CACHE) -> ClipResult:
    """Both runs on the clip, or on its `variant` copy with the site and labels carried over."""
    site, clip = bench_site(labels, detector), labels.clip
    if variant is not None:
        site, clip = variant.site(site), degraded_clip(clip, variant, cache)
        vehicles = tuple(v.model_copy(update={"frames": variant.frames(*v.frames)}) for v in labels.vehicles)
        labels = labels.model_copy(update={"clip": clip, "vehicles": vehicles})

    def scored(run) -> Score:
        return score(run.spans, labels.vehicles, site.exempt_classes)

    return ClipResult(labels, scored(process(clip, site)), scored(baseline(clip, site)) if with_baseline else None)


def bench(detector: str | None = None, folder: Path = LABELS, variants: Sequence[Variant] = (),
          cache: Path = VARIANT_CACHE) -> list[str]:
    """The table for the clips as recorded, then one for each of `variants` (pipeline/bench/variants.py)."""
    clips = all_labels(folder)
    models = sorted({str(resolve_model(bench_site(c, detector).detection.model)) for c in clips})
    lines = [f"detector: {detector or 'each site’s own'} ({', '.join(models)})"]
    runs = [("as recorded", None)] + [(f"{v.name}: {v.what}", v) for v in variants]
    everything: list[ClipResult] = []
    for title, variant in runs:
        results = [run_clip(c, detector, variant=variant, cache=cache)
                   for c in clips if variant is None or variant.applies_to(c.clip)]
        lines += ["", title, *_table(results)]
        everything += results
    if variants:
        lines += ["", "every run above", *_table(everything, rows=False)]
    for r in everything:  # what to look at by eye
        for name, s in (("process", r.process), ("baseline", r.baseline)):
            for v in s.missed:
                lines.append(f"{r.labels.clip.name}: {name} missed {list(v.frames)} {v.vehicle_class}: {v.description}")
            if s.false_positives:
                spans = ", ".join(f"{a}-{b}" for a, b in s.false_positives)
                lines.append(f"{r.labels.clip.name}: {name} false positives (frames): {spans}")
    return lines


def _table(results: list[ClipResult], rows: bool = True) -> list[str]:
    header = (f"{'clip':<12}{'split':<12}{'along':>6}   {'process found':>14}{'recall':>8}{'FP':>4}"
              f"   {'baseline found':>14}{'recall':>8}{'FP':>4}")
    lines = [header, "-" * len(header)]
    if rows:
        lines += [_row(r.labels.name, r.labels.split, [r]) for r in results]
        lines.append("-" * len(header))
    lines += [_row("total", split, [r for r in results if r.labels.split == split]) for split in SPLITS]
    lines.append(_row("total", "all", results))
    return lines


def _row(name: str, split: str, results: list[ClipResult]) -> str:
    def cols(scores: list[Score]) -> str:
        labelled, found = sum(s.labelled for s in scores), sum(s.found for s in scores)
        recall = f"{found / labelled:.0%}" if labelled else "-"
        return f"{found:>14}{recall:>8}{sum(len(s.false_positives) for s in scores):>4}"

    labelled = sum(r.process.labelled for r in results)
    return (f"{name:<12}{split:<12}{labelled:>6}   {cols([r.process for r in results])}"
            f"   {cols([r.baseline for r in results])}")
