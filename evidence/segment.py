"""Cut the original footage segment by stream copy: the source's packets, byte for byte.

The cut starts at the keyframe at or before the wanted first frame (a decoder needs it) and ends
at the first point in decode order where the packets copied hold an unbroken run of frames that
reaches the wanted last frame; with B-frames this may add a frame or two of reference pictures.

>>> plan = plan_segment(index, 942, 1144)  # doctest: +SKIP
>>> plan.first_frame, plan.last_frame  # doctest: +SKIP
(896, 1144)
>>> cut_segment(index, plan, Path("original.mp4"))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from evidence.settings import EvidenceError
from evidence.source import PacketIndex


@dataclass(frozen=True)
class SegmentPlan:
    start: int        # decode position of the first packet copied (a keyframe)
    stop: int         # decode position after the last packet copied
    first_frame: int  # frame numbers, in the source, of the frames the segment holds
    last_frame: int

    @property
    def frames(self) -> int:
        return self.last_frame - self.first_frame + 1


def plan_segment(index: PacketIndex, want_first: int, want_last: int) -> SegmentPlan:
    want_first = max(0, want_first)
    want_last = min(index.frames - 1, want_last)
    first = index.keyframe_at_or_before(want_first)
    start = index.position(first)
    top, count = -1, 0
    for pos in range(start, index.frames):
        number = int(index.frame[pos])
        if number >= first:  # open-GOP leading pictures (before the keyframe) are not counted
            count += 1
            top = max(top, number)
        if top >= want_last and count == top - first + 1:
            return SegmentPlan(start, pos + 1, first, top)
    raise EvidenceError(f"{index.path}: no unbroken run of frames from {first} to {want_last}")


def cut_segment(index: PacketIndex, plan: SegmentPlan, dest: Path) -> None:
    """Copy packets start..stop-1 of the video stream into `dest` (container chosen by its suffix)."""
    with av.open(str(index.path)) as source, av.open(str(dest), "w") as out:
        stream = source.streams.video[0]
        copy = out.add_stream_from_template(stream)
        # Shift timestamps so the copy starts at zero; packet payloads are never touched.
        offset = int(index.dts[plan.start])
        source.seek(int(index.pts[plan.start]), stream=stream, backward=True, any_frame=False)
        pos = plan.start
        for packet in source.demux(stream):
            if packet.size == 0:
                continue
            if pos == plan.start and packet.pts != index.pts[pos]:
                continue  # the demuxer may resume a packet early; wait for the keyframe itself
            if packet.pts != index.pts[pos]:
                raise EvidenceError(f"{index.path}: packet order changed while cutting (at packet {pos})")
            packet.pts -= offset
            packet.dts -= offset
            packet.stream = copy
            out.mux(packet)
            pos += 1
            if pos == plan.stop:
                return
    raise EvidenceError(f"{index.path}: the file ended before packet {plan.stop} while cutting")
