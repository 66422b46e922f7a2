"""`buslane bench speed`: frames per second of decode-only, the baseline and `buslane process`.

A fourth row, `detector`, is the vehicle detector alone on every frame, laid out and run side by
side as `buslane process` runs it, with decoding not counted: on dense footage, where process
detects on nearly every frame, no pipeline built on this model and layout can beat it.

Every figure comes from the same run on the same machine. Each measurement runs in a fresh
process so its peak memory (max RSS) is its own. The baseline is ultralytics `model.track` on every
whole frame with the same model, classes and confidence, ultralytics' own ByteTrack settings, and
the same lane rules applied afterwards.
"""

from __future__ import annotations

import resource
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path

import av

from pipeline.analysis import Analyser, frame_detector
from pipeline.detection import UltralyticsTracker, load_detector, region_of_interest
from pipeline.footage import open_footage
from pipeline.lane_rules import LaneGeometry, judge
from pipeline.models import resolve_model
from pipeline.site import SiteConfig, load_site
from pipeline.tracks import TrackBuilder

START = datetime.fromisoformat("2016-03-18T12:21:25")


@dataclass(frozen=True)
class Run:
    frames: int
    seconds: float
    spans: tuple[tuple[int, int], ...]  # contraventions' frame spans
    peak_mb: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def decode_only(path: Path) -> Run:
    began = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = sum(1 for _ in container.decode(stream))
    return Run(frames, time.perf_counter() - began, (), _peak_mb())


def baseline(path: Path, site: SiteConfig) -> Run:
    d = site.detection
    # ultralytics' own tracker settings, not the site's: the baseline is what it gives out of the box.
    tracker = UltralyticsTracker(str(resolve_model(d.model)), d.confidence, "bytetrack.yaml", d.imgsz)
    began = time.perf_counter()
    builder = TrackBuilder()
    frames = 0
    with open_footage(path) as video:
        for index, bgr in video.frames():
            builder.add(index, tracker.update(bgr))
            frames = index + 1
        info = video.info
    geometry = LaneGeometry(site, info.width, info.height)
    start = START.replace(tzinfo=site.tz)
    decisions = [d for t in builder.tracks() if (d := judge(t, geometry, site, info.fps, start))]
    spans = tuple(sorted((d.first_frame, d.last_frame) for d in decisions if d.is_contravention))
    return Run(frames, time.perf_counter() - began, spans, _peak_mb())


def detector_only(path: Path, site: SiteConfig, chunk: int = 64) -> Run:
    """Only the time spent detecting, on every frame, decoded `chunk` frames at a time beforehand."""
    d, proc = site.detection, site.processing
    model = load_detector(resolve_model(d.model), d.confidence, d.imgsz, d.parallel_inferences)
    seconds, frames = 0.0, 0
    with open_footage(path) as video, ThreadPoolExecutor(model.parallel) as pool:
        geometry = LaneGeometry(site, video.info.width, video.info.height)
        region = region_of_interest([geometry.lane | geometry.exempt],
                                    proc.region_margin(video.info.width, video.info.height))
        detector, per_input = frame_detector(model, proc, region, video.info)
        decoded = video.frames()
        for n, images in enumerate(iter(lambda: [bgr for _, bgr in islice(decoded, chunk)], [])):
            if n == 0:
                detector.detect(images[:per_input])  # the runtime's first call is slow: not timed
            began = time.perf_counter()
            list(pool.map(detector.detect, [images[i : i + per_input] for i in range(0, len(images), per_input)]))
            seconds += time.perf_counter() - began
            frames += len(images)
    return Run(frames, seconds, (), _peak_mb())


def process(path: Path, site: SiteConfig) -> Run:
    analyser = Analyser(site)
    began = time.perf_counter()
    result = analyser.analyse(path, "bench", START)
    spans = tuple(sorted((d.first_frame, d.last_frame) for d in result.passages if d.is_contravention))
    return Run(result.frames, time.perf_counter() - began, spans, _peak_mb())


def _isolated(fn, *args) -> Run:
    with ProcessPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def same_contraventions(a: tuple, b: tuple) -> str:
    """'yes' when each contravention of one run overlaps exactly one of the other's, in frames."""
    def matched(x, ys):
        return sum(x[0] <= y[1] and y[0] <= x[1] for y in ys) == 1
    if len(a) == len(b) and all(matched(x, b) for x in a) and all(matched(y, a) for y in b):
        return "yes"
    return "NO"


def bench(clips: list[tuple[str, Path, Path]], detector: str | None = None) -> list[str]:
    """The table; `detector` (a manifest name or a path) replaces each site's vehicle detector."""
    header = f"{'clip':<26}{'frames':>8}{'real-time s':>12}  {'run':<10}{'fps':>9}{'x baseline':>11}{'x real time':>12}{'contraventions':>16}{'peak MB':>9}"
    lines = [header, "-" * len(header)]
    for name, path, site_path in clips:
        site = load_site(site_path)
        if detector:
            site = site.model_copy(update={"detection": site.detection.model_copy(update={"model": detector})})
        runs = {
            "decode": _isolated(decode_only, path),
            "baseline": _isolated(baseline, path, site),
            "process": _isolated(process, path, site),
            "detector": _isolated(detector_only, path, site),
        }
        fps_clip = _clip_fps(path)
        base = runs["baseline"]
        for label, run in runs.items():
            found = str(len(run.spans)) if label in ("baseline", "process") else "-"
            lines.append(
                f"{name:<26}{run.frames:>8}{run.frames / fps_clip:>12.0f}  {label:<10}{run.fps:>9.1f}"
                f"{run.fps / base.fps:>11.2f}{run.fps / fps_clip:>12.1f}{found:>16}{run.peak_mb:>9.0f}"
            )
        same = same_contraventions(base.spans, runs["process"].spans)
        lines.append(f"{'':<26}same contraventions as the baseline: {same}; "
                     f"process time / decode time: {runs['process'].seconds / runs['decode'].seconds:.1f}")
        if same != "yes":  # say which, so the difference can be checked by eye
            for label in ("baseline", "process"):
                lines.append(f"{'':<26}{label} contraventions (frames): {', '.join(f'{a}-{b}' for a, b in runs[label].spans) or 'none'}")
    return lines


def _clip_fps(path: Path) -> float:
    with open_footage(path) as video:
        return video.info.fps
