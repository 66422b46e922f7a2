"""The review copy's player: a declared component (plain HTML and JavaScript, no build step).

Streamlit re-runs the page script on every action; `st.video` would then be re-created and start
again at 0:00. This component keeps one <video> for as long as the page shows the same case (its
key is stable), so it plays on from where it was. It is given the file's bytes and makes a blob:
URL in the browser, so no media URL for the evidence exists. Under the picture: play/pause, one
frame back/forward, and the review frame, the footage frame and the time as it plays. Keys
(on the page or the player): Space plays or pauses, the left and right arrows step one frame.
"""

from __future__ import annotations

from pathlib import Path

import streamlit.components.v1 as components

_player = components.declare_component("buslane_player", path=str(Path(__file__).parent))


def player(video: bytes, case_id: str, fps: float, first_frame: int = 0, aspect: float = 414 / 640) -> None:
    """Show `video` (an mp4's bytes); `first_frame`: the footage frame the copy starts at."""
    _player(video=video, case_id=case_id, fps=fps, first_frame=first_frame, aspect=aspect,
            key="review-player", default=None)
