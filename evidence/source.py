"""Read-only access to a source recording: which packet holds which frame, and decoding a span.

Frame numbers count from 0 in presentation order, the numbering the batch used (it counted decoded
frames). With B-frames, decode order differs from presentation order, so the number of a packet is
the rank of its presentation timestamp.

>>> index = packet_index(Path("clip.mp4"))  # doctest: +SKIP
>>> index.frame[:4]  # packets in decode order -> frame number  # doctest: +SKIP
array([0, 2, 1, 4])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from pathlib import Path

import av
import numpy as np

from evidence.settings import EvidenceError


@dataclass(frozen=True, eq=False)
class PacketIndex:
    """Every video packet of a file, in decode order (demuxed only; nothing is decoded)."""

    path: Path
    time_base: Fraction
    rate: Fraction
    pts: np.ndarray       # int64, decode order
    dts: np.ndarray       # int64, decode order
    keyframe: np.ndarray  # bool, decode order
    frame: np.ndarray     # int64, decode order -> frame number

    @property
    def frames(self) -> int:
        return len(self.pts)

    def position(self, frame: int) -> int:
        """Decode position of the packet holding a frame."""
        return int(self._positions[frame])

    def frame_of_pts(self, pts: int) -> int:
        return self._pts_to_frame[pts]

    def keyframe_at_or_before(self, frame: int) -> int:
        """The latest frame number at or before `frame` that starts a decodable run (a keyframe)."""
        keys = np.sort(self.frame[self.keyframe])
        earlier = keys[keys <= frame]
        if not len(earlier):
            raise EvidenceError(f"{self.path}: no keyframe at or before frame {frame}")
        return int(earlier[-1])

    @cached_property  # derived once; cached_property writes __dict__ directly, so frozen is fine
    def _positions(self) -> np.ndarray:
        positions = np.empty(self.frames, np.int64)
        positions[self.frame] = np.arange(self.frames)
        return positions

    @cached_property
    def _pts_to_frame(self) -> dict[int, int]:
        return dict(zip(self.pts.tolist(), self.frame.tolist()))


def packet_index(path: Path) -> PacketIndex:
    """Index a file's video packets; cached per file version, as one file often has several cases."""
    stat = path.stat()
    return _index(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4)
def _index(path: str, _size: int, _mtime_ns: int) -> PacketIndex:
    pts, dts, key = [], [], []
    with av.open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            if packet.pts is None or packet.dts is None:
                raise EvidenceError(f"{path}: a video packet has no timestamp; frames cannot be numbered")
            pts.append(packet.pts)
            dts.append(packet.dts)
            key.append(packet.is_keyframe)
        time_base = stream.time_base
    pts_a = np.asarray(pts, np.int64)
    if len(np.unique(pts_a)) != len(pts_a):
        raise EvidenceError(f"{path}: repeated presentation timestamps; frames cannot be numbered")
    frame = np.empty(len(pts_a), np.int64)
    frame[np.argsort(pts_a, kind="stable")] = np.arange(len(pts_a))
    return PacketIndex(Path(path), time_base, Fraction(rate), pts_a, np.asarray(dts, np.int64),
                       np.asarray(key, bool), frame)


def decode_frames(index: PacketIndex, first: int, last: int) -> Iterator[tuple[int, np.ndarray]]:
    """(frame number, BGR array) for frames first..last, decoded from the keyframe before `first`.

    >>> for number, bgr in decode_frames(index, 100, 120): ...  # doctest: +SKIP
    """
    key = index.keyframe_at_or_before(first)
    expected = first
    with av.open(str(index.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        container.seek(int(index.pts[index.position(key)]), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            number = index.frame_of_pts(frame.pts)
            if number < first:
                continue
            if number != expected:
                raise EvidenceError(f"{index.path}: decoding gave frame {number} where frame {expected} was due")
            yield number, frame.to_ndarray(format="bgr24")
            if number == last:
                return
            expected += 1
    raise EvidenceError(f"{index.path}: decoding ended before frame {expected}")
