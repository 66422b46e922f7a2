"""Footage files: identity (sha256), start time, and frames decoded once with PyAV.

>>> with open_footage("clip.mp4") as video:  # doctest: +SKIP
...     for index, bgr in video.frames():
...         ...
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av
import numpy as np

from pipeline.models import sha256_file
from pipeline.site import StartTime


class FootageError(RuntimeError):
    """A footage file cannot be used; the message names the file and the reason."""


# What a path is when it is neither a regular file nor a folder: reading a pipe or a device never ends.
_SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))

# FFmpeg reads a single picture through these demuxers; it would pass for one-frame footage.
STILL_IMAGE_DEMUXERS = ("image2", "image2pipe")


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    codec: str
    frames_estimate: int  # declared by the container (frame count, else duration x rate)


class DecodedFrame:
    """One decoded frame; the BGR and grey views are computed only when a stage asks for them."""

    __slots__ = ("index", "_frame", "_bgr")

    def __init__(self, index: int, frame: av.VideoFrame):
        self.index, self._frame, self._bgr = index, frame, None

    @property
    def bgr(self) -> np.ndarray:
        if self._bgr is None:
            self._bgr = self._frame.to_ndarray(format="bgr24")
        return self._bgr

    def grey(self, step: int = 1) -> np.ndarray:
        """The luma plane (no colour conversion for YUV footage), subsampled by `step`."""
        f = self._frame
        if f.format.name.startswith(("yuv", "yuvj", "nv12", "gray")):
            plane = f.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(f.height, plane.line_size)[:, : f.width]
        else:
            y = f.to_ndarray(format="gray")
        return y[::step, ::step]


class Video:
    def __init__(self, path: Path, container: av.container.InputContainer):
        self.path = path
        self._container = container
        self._stream = container.streams.video[0]
        rate = self._stream.average_rate or self._stream.guessed_rate
        if not rate:
            raise FootageError(f"{path}: the video stream has no frame rate")
        duration_s = (container.duration or 0) / 1e6
        self.info = VideoInfo(
            self._stream.codec_context.width,
            self._stream.codec_context.height,
            float(rate),
            self._stream.codec_context.name,
            self._stream.frames or round(duration_s * float(rate)),
        )
        self.truncation_error: str | None = None  # set when decoding ends before the declared end
        self._skipped_any = False

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """(frame index, BGR array) for every decodable frame."""
        for frame in self.decoded():
            yield frame.index, frame.bgr

    @property
    def has_skippable_frames(self) -> bool:
        """True when the codec reorders frames (B-frames), some of which no other frame needs."""
        return bool(self._stream.codec_context.has_b_frames)

    def skip_nonref(self, skip: bool) -> None:
        """Decode only the frames other frames depend on (True) or every frame (False).

        Meant for stretches where nothing happens: the frames skipped are never decoded, and the
        indices of the frames still yielded stay their true positions (counted from timestamps).
        The decoder's threads apply a change a few frames late.
        """
        self._stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
        self._skipped_any = self._skipped_any or skip

    def decoded(self) -> Iterator[DecodedFrame]:
        """Every decodable frame, decoded once; a damaged or truncated file sets truncation_error."""
        self._stream.thread_type = "AUTO"
        rate, base = self._stream.average_rate, self._stream.time_base
        ticks_per_frame = float(1 / (base * rate)) if rate and base else None
        index, last_pts = -1, None
        try:
            for frame in self._container.decode(self._stream):
                index += self._step(frame.pts, last_pts, ticks_per_frame)
                last_pts = frame.pts
                yield DecodedFrame(index, frame)
        except av.error.FFmpegError as e:
            if index < 0:
                raise FootageError(f"{self.path}: no frame could be decoded ({e})") from e
            self.truncation_error = f"damaged: decoding failed after frame {index} ({e})"
            return
        # A file cut short (copy interrupted, recorder crash) often decodes cleanly up to the cut.
        declared, decoded = self.info.frames_estimate, index + 1
        if declared and decoded < declared * 0.99:
            self.truncation_error = f"truncated: only {decoded} of the {declared} frames its header declares could be decoded"

    def _step(self, pts: int | None, last_pts: int | None, ticks_per_frame: float | None) -> int:
        """Frames from the previous frame yielded to this one: 1 unless frames were skipped."""
        if not self._skipped_any or pts is None or last_pts is None or not ticks_per_frame:
            return 1  # every frame decoded: the count is the index, whatever the timestamps say
        return max(1, round((pts - last_pts) / ticks_per_frame))


@contextmanager
def open_footage(path: str | Path) -> Iterator[Video]:
    path = Path(path)
    if problem := not_regular_file(path):
        raise FootageError(f"{path}: {problem}")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as e:
        raise FootageError(f"{path}: cannot be read as video ({e.strerror or e})") from e
    try:
        if not container.streams.video:
            raise FootageError(f"{path}: contains no video stream")
        if container.format.name in STILL_IMAGE_DEMUXERS or container.format.name.endswith("_pipe"):
            codec = container.streams.video[0].codec_context.name
            raise FootageError(f"{path}: a still image ({codec}), not video footage")
        yield Video(path, container)
    finally:
        container.close()


def not_regular_file(path: Path) -> str | None:
    """Why `path` is not a regular file one can read to its end, found without opening it (symbolic
    links followed), e.g. "not a regular file: a named pipe"; None for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as e:
        return "a symbolic link loop" if e.errno == errno.ELOOP else f"cannot read file ({e.strerror or e})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a footage file"
    return "not a regular file: " + next((name for test, name in _SPECIAL_FILES if test(mode)), "an unknown kind")


def footage_sha256(path: str | Path) -> str:
    """The file's sha256; FootageError, before anything is read, for what is not a regular file."""
    path = Path(path)
    if problem := not_regular_file(path):
        raise FootageError(f"{path}: {problem}")
    return sha256_file(path.resolve())


def resolve_start(path: Path, rule: StartTime, tz, cli_start: datetime | None) -> datetime:
    """The footage's start as an aware datetime; naive times are local to the site's timezone."""
    if cli_start is not None:
        start = cli_start
    elif rule.source == "filename":
        m = re.search(rule.pattern, path.name)
        if not m:
            raise FootageError(f"{path}: file name does not match the site's start_time.pattern {rule.pattern!r}")
        try:
            start = datetime.strptime(m["ts"], rule.format)
        except ValueError as e:
            raise FootageError(f"{path}: start time {m['ts']!r} does not fit format {rule.format!r}") from e
    elif rule.source == "sidecar":
        # A name too long to have a sidecar beside it has none; a pipe named .json is never read.
        sidecar = next((s for s in (path.with_suffix(path.suffix + ".json"), path.with_suffix(".json"))
                        if not not_regular_file(s)), None)
        if sidecar is None:
            raise FootageError(f"{path}: no sidecar {path.name}.json with the start time (or give --start)")
        try:
            start = datetime.fromisoformat(json.loads(sidecar.read_text())["start"])
        except OSError as e:
            raise FootageError(f"{sidecar}: cannot be read ({e.strerror or e})") from None
        except (ValueError, KeyError, TypeError) as e:
            raise FootageError(f"{sidecar}: needs {{\"start\": \"ISO-8601 time\"}} ({e})") from None
    else:
        raise FootageError(f"{path}: the site takes start times from the command line: give --start")
    return start if start.tzinfo else start.replace(tzinfo=tz)
