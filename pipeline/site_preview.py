"""`buslane site preview SITE FOOTAGE`: see on the camera's own footage what the site file draws and decides.

Commissioning a camera: a lane polygon a few pixels off loses contraventions without a word, since a
vehicle counts only while the point where it meets the road is inside the lane. The preview draws
the lanes (green), the centreline with its direction of travel (yellow), the exemption zones (blue)
and the ignore zones (grey) on an excerpt of the footage, with every tracked vehicle's box, ground
point and trail, and below the picture each lane passage's verdict and reason.

The verdicts are the batch's: the excerpt is copied losslessly (FFV1) and analysed by the batch's
`Analyser` with the site's own detector, tracker and lane rules (`judge`), so a vehicle already in
the lane when the excerpt starts is judged as one cut by a recording's start, as in a segment file.
Plate reading is left out (it decides nothing here; the whitelist is applied when the batch records).

    buslane site preview sites/my_camera.yaml first.mp4 --start-second 40 --seconds 10 --out preview.mp4
    buslane site preview sites/my_camera.yaml first.mp4 --out frame.png

The video is H.264 (yuv420p, faststart), which browsers play; `render_png` and `render_mp4` are
what a page showing the preview calls.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import av
import cv2
import numpy as np
import typer

from pipeline.footage import FootageError, open_footage, resolve_start
from pipeline.lane_rules import PassageDecision
from pipeline.site import SiteConfig, SiteConfigError, load_site
from pipeline.site_check import app
from pipeline.tracks import Track

if TYPE_CHECKING:  # the models' libraries load only when a preview is made, not with every command
    from pipeline.analysis import Analyser, FileResult

DEFAULT_SECONDS = 10.0
LANE = (0, 200, 0)          # BGR, as on the evidence's review copies (evidence/overlays.py)
ZONE = (255, 128, 0)
CENTRELINE = (0, 220, 255)
IGNORE = (160, 160, 160)
PLAIN = 48                  # the grey of a plain background
VEHICLE = (255, 255, 255)   # tracked, never in the lane
PASSAGE = (0, 165, 255)     # in the lane, not a contravention
CONTRAVENTION = (0, 0, 255)
LINE = 2                    # thick enough to survive H.264's halved colour resolution
FONT, FONT_SCALE, LINE_HEIGHT = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 15
PANEL_LINES = 5             # the clock, then up to four passages in view
TRAIL_SECONDS = 3.0


@dataclass(frozen=True)
class Preview:
    """An excerpt analysed as the batch would: its tracks and passages, frame numbers from the excerpt's start."""

    site: SiteConfig
    excerpt: Path        # the lossless copy that was analysed (lives as long as the `analyse_excerpt` block)
    first_frame: int     # the excerpt's frame 0 in the footage
    result: FileResult
    tracks: tuple[Track, ...]

    def passage_of(self, track_id: int) -> PassageDecision | None:
        return next((p for p in self.result.passages if p.track_id == track_id), None)


def _keeping_tracks(site: SiteConfig, analyser: Analyser | None) -> Analyser:
    """The batch's Analyser for `site`, keeping every track in `.tracks` (the batch keeps only those
    that entered the lane); a caller's loaded one (a page previewing again and again) is reused."""
    from pipeline.analysis import Analyser

    class KeepingTracks(Analyser):
        tracks: tuple[Track, ...] = ()

        def _track(self, video, geometry):
            frames, detected, tracks, reads = super()._track(video, geometry)
            self.tracks = tuple(tracks)
            return frames, detected, tracks, reads

    if analyser is None:
        return KeepingTracks(site)
    runner = KeepingTracks.__new__(KeepingTracks)
    runner.__dict__.update(analyser.__dict__, site=site, plates=None)
    return runner


def footage_seconds(footage: Path) -> float:
    with open_footage(footage) as video:
        return video.info.frames_estimate / video.info.fps


@contextmanager
def analyse_excerpt(site: SiteConfig, footage: Path, first_second: float, seconds: float,
                    start: datetime | None = None, analyser: Analyser | None = None) -> Iterator[Preview]:
    """Copy [first_second, first_second + seconds) of the footage losslessly and analyse it.
    FootageError when the file cannot be read, its start time cannot be found, or the excerpt is empty."""
    footage = Path(footage)
    when = resolve_start(footage, site.start_time, site.tz, start)
    quiet = site.model_copy(update={"plates": site.plates.model_copy(update={"enabled": False})})
    with tempfile.TemporaryDirectory(prefix="buslane-preview-") as tmp:
        excerpt = Path(tmp) / "excerpt.mkv"
        first, fps = _copy_excerpt(footage, excerpt, first_second, seconds)
        runner = _keeping_tracks(quiet, analyser)
        result = runner.analyse(excerpt, "preview", when + timedelta(seconds=first / fps))
        if result.status != "processed":
            raise FootageError(f"{footage}: the excerpt could not be analysed ({result.error})")
        yield Preview(site, excerpt, first, result, runner.tracks)


def _copy_excerpt(footage: Path, out: Path, first_second: float, seconds: float) -> tuple[int, float]:
    """Write the frames of the excerpt to `out` as lossless FFV1; returns (its first frame's number, fps)."""
    with open_footage(footage) as video:
        fps, info = video.info.fps, video.info
        first, stop = round(first_second * fps), round((first_second + seconds) * fps)
        if first_second < 0 or seconds <= 0:
            raise FootageError(f"{footage}: the excerpt must start at 0 s or later and last more than 0 s")
        written = 0
        with av.open(str(out), "w") as container:
            stream = container.add_stream("ffv1", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = info.width, info.height, "bgr0"
            for frame in video.decoded():
                if frame.index >= stop:
                    break
                if frame.index >= first:
                    picture = av.VideoFrame.from_ndarray(frame.bgr, format="bgr24")
                    container.mux(stream.encode(picture))
                    written += 1
            container.mux(stream.encode())
    if not written:
        raise FootageError(f"{footage}: no frames from {first_second:g} s (the file is {info.frames_estimate / fps:.1f} s long)")
    return first, fps


def frames(preview: Preview, plain: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """(excerpt frame number, annotated BGR picture with the verdict panel below it) for each frame;
    `plain`: drawn on grey instead of the footage (for documents that may not carry the footage)."""
    with open_footage(preview.excerpt) as video:
        for index, bgr in video.frames():
            yield index, annotate(preview, index, np.full_like(bgr, PLAIN) if plain else bgr)


def annotate(preview: Preview, index: int, bgr: np.ndarray) -> np.ndarray:
    """Draw the site and the vehicles on a copy of excerpt frame `index`, and add the panel below."""
    image = bgr.copy()
    draw_site(image, preview.site)
    info = preview.result.info
    hold = max(1, preview.site.processing.idle_stride)  # frames between two detections when idle
    trail = round(TRAIL_SECONDS * info.fps)
    lines: list[tuple[str, tuple[int, int, int]]] = []
    for track in preview.tracks:
        seen = np.flatnonzero((track.frames <= index) & (track.frames > index - trail))
        if not len(seen) or index - track.frames[seen[-1]] > hold:
            continue  # not in view now
        passage = preview.passage_of(track.track_id)
        colour = VEHICLE if passage is None else CONTRAVENTION if passage.is_contravention else PASSAGE
        ground = np.round(track.ground_points[seen]).astype(np.int32)
        cv2.polylines(image, [ground], False, colour, 1, cv2.LINE_AA)
        x1, y1, x2, y2 = np.round(track.xyxy[seen[-1]]).astype(int)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, LINE, cv2.LINE_AA)
        cv2.circle(image, tuple(int(v) for v in ground[-1]), 4, colour, -1, cv2.LINE_AA)
        label = f"T{track.track_id}" + (f" {passage.vehicle_class}" if passage else "")
        room = image.shape[1] - cv2.getTextSize(label, FONT, FONT_SCALE, 1)[0][0] - 2  # keep it in the picture
        cv2.putText(image, label, (max(0, min(x1, room)), max(y1 - 4, 10)), FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)
        if passage is not None:
            verdict = "CONTRAVENTION" if passage.is_contravention else "no contravention"
            lines.append((f"T{track.track_id} {passage.vehicle_class}: {verdict}: {passage.reason}", colour))
    when = preview.result.start + timedelta(seconds=index / info.fps)
    clock = (f"{when.astimezone(preview.site.tz):%Y-%m-%d %H:%M:%S} {preview.site.camera_id}   "
             f"frame {preview.first_frame + index}   passages in view: {len(lines)}")
    return add_panel(image, [(clock, VEHICLE)] + lines)


def draw_site(image: np.ndarray, site: SiteConfig) -> np.ndarray:
    """The site's zones on `image`, in place."""
    for polygons, colour in ((site.ignore_zones, IGNORE), (site.exemption_zones, ZONE), (site.lanes, LANE)):
        for polygon in polygons:
            cv2.polylines(image, [np.round(np.asarray(polygon)).astype(np.int32)], True, colour, LINE, cv2.LINE_AA)
    line = np.round(np.asarray(site.centreline)).astype(np.int32)
    cv2.polylines(image, [line], False, CENTRELINE, 1, cv2.LINE_AA)
    cv2.arrowedLine(image, tuple(map(int, line[-2])), tuple(map(int, line[-1])), CENTRELINE, 1, cv2.LINE_AA,
                    tipLength=0.15)
    return image


def add_panel(image: np.ndarray, lines: list[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    """The picture with a black panel of text lines below it (the recorded pixels stay uncovered);
    lines beyond the panel's height are counted, not drawn."""
    shown = lines[:PANEL_LINES]
    if len(lines) > PANEL_LINES:
        shown[-1] = (f"... and {len(lines) - PANEL_LINES + 1} more passages", VEHICLE)
    width = image.shape[1]
    panel = np.zeros((PANEL_LINES * LINE_HEIGHT + 5, width, 3), np.uint8)  # 80: keeps 360 + 80 even
    for row, (text, colour) in enumerate(shown):
        text = text.encode("ascii", "replace").decode()  # Hershey fonts draw ASCII only
        while len(text) > 4 and cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0] > width - 8:
            text = text[:-5] + "..."  # cut to the width (the full reasons are printed by the command)
        cv2.putText(panel, text, (4, (row + 1) * LINE_HEIGHT), FONT, FONT_SCALE, colour, 1, cv2.LINE_AA)
    return np.vstack([image, panel])


def render_mp4(site: SiteConfig, footage: Path, out: Path, start_second: float = 0.0,
               seconds: float = DEFAULT_SECONDS, start: datetime | None = None,
               analyser: Analyser | None = None) -> tuple[PassageDecision, ...]:
    """Write the annotated excerpt to `out` as H.264 MP4; returns its passages."""
    with analyse_excerpt(site, footage, start_second, seconds, start, analyser) as preview:
        write_h264(frames(preview), Path(out), preview.result.info.fps)
        return preview.result.passages


def render_png(site: SiteConfig, footage: Path, second: float | None = None, seconds: float = DEFAULT_SECONDS,
               start: datetime | None = None, analyser: Analyser | None = None, plain: bool = False) -> bytes:
    """One annotated frame as PNG: the one at `second` (default: the middle of the footage), judged on
    the `seconds` of footage around it; `plain`: on grey, without the footage's pixels."""
    if second is None:
        second = footage_seconds(Path(footage)) / 2
    first = max(0.0, second - seconds / 2)
    with analyse_excerpt(site, footage, first, seconds, start, analyser) as preview:
        wanted = round(second * preview.result.info.fps) - preview.first_frame
        picture = None
        for index, picture in frames(preview, plain):
            if index >= wanted:
                break
        _, png = cv2.imencode(".png", picture)
        return png.tobytes()


def write_h264(pictures: Iterator[tuple[int, np.ndarray]], out: Path, fps: float) -> None:
    """Encode BGR pictures as browser-playable H.264 (yuv420p needs even sides: an odd one is padded)."""
    with av.open(str(out), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                      options={"crf": "20", "preset": "veryfast"})
        stream.pix_fmt = "yuv420p"
        for n, (_, bgr) in enumerate(pictures):
            h, w = bgr.shape[:2]
            if h % 2 or w % 2:
                bgr = cv2.copyMakeBorder(bgr, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT)
            if n == 0:  # the stream's size is the pictures' (PyAV would otherwise scale them to 640x480)
                stream.width, stream.height = bgr.shape[1], bgr.shape[0]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")))
        container.mux(stream.encode())


@app.command("preview")
def preview_command(
    site: Annotated[Path, typer.Argument(help="camera site YAML")],
    footage: Annotated[Path, typer.Argument(help="a footage file from the camera")],
    out: Annotated[Path, typer.Option(help="FILE.mp4 (H.264 video of the excerpt) or FILE.png (one frame)")],
    start_second: Annotated[Optional[float], typer.Option(help="where the excerpt starts; for a PNG, the frame shown (default: the middle)")] = None,
    seconds: Annotated[float, typer.Option(help="length of the excerpt analysed")] = DEFAULT_SECONDS,
    start: Annotated[Optional[datetime], typer.Option(help="start of the footage, if the site takes it from the command line")] = None,
    plain: Annotated[bool, typer.Option(help="PNG only: draw on grey, without the footage's pixels (for documents)")] = False,
) -> None:
    """Draw the site's zones, every tracked vehicle and each lane passage's verdict on the footage."""
    if out.suffix.lower() not in (".mp4", ".png"):
        typer.echo(f"{out}: --out must end in .mp4 or .png", err=True)
        raise typer.Exit(2)
    try:
        config = load_site(site)
        if out.suffix.lower() == ".png":
            out.write_bytes(render_png(config, footage, start_second, seconds, start, plain=plain))
            typer.echo(f"wrote {out}")
            return
        passages = render_mp4(config, footage, out, start_second or 0.0, seconds, start)
    except (SiteConfigError, FootageError) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    for p in passages:
        verdict = "CONTRAVENTION" if p.is_contravention else "no contravention"
        typer.echo(f"T{p.track_id} {p.vehicle_class}, {p.first_seen:%H:%M:%S}: {verdict}: {p.reason}")
    typer.echo(f"wrote {out}: {len(passages)} lane passages, {sum(p.is_contravention for p in passages)} contraventions")
