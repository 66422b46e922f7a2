"""A download button that never leaves a file at a URL.

`st.download_button` puts its bytes at a `/media/...` URL that anyone holding it can fetch, signed in
or not, for a while after the page has gone. Here a click asks the server: `fetch` runs in the
signed-in session (check the session and audit the download there; return None to refuse), the
bytes go to this page alone over the session's websocket, and the browser saves them from a `blob:`
URL that dies with the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

_component = components.declare_component("buslane_download", path=str(Path(__file__).parent))


@dataclass(frozen=True)
class Download:
    data: bytes
    file_name: str
    mime: str


def download_button(label: str, key: str, fetch: Callable[[], Download | None]) -> None:
    """A button labelled `label`; each click calls fetch() and saves what it returns."""
    pending = f"{key}-download"
    reply: tuple[str, Download] | None = st.session_state.pop(pending, None)  # sent once, not on every rerun
    args = {"label": label, "request": None, "data": None, "file_name": "", "mime": ""}
    if reply is not None:
        request, download = reply
        args |= {"request": request, "data": download.data, "file_name": download.file_name, "mime": download.mime}
    _component(**args, key=key, default=None, on_change=partial(_fetch, key, pending, fetch))


def _fetch(key: str, pending: str, fetch: Callable[[], Download | None]) -> None:
    request = st.session_state.get(key)
    if request and (download := fetch()) is not None:
        st.session_state[pending] = (request, download)
