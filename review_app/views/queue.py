"""The queue: pending cases by review deadline, overdue and nearly due ones highlighted; a click on a
row opens its case."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from pipeline.deadlines import Urgency, describe
from pipeline.store import Store
from review_app.components.download import Download, download_button
from review_app.services.exports import queue_csv
from review_app.services.queue import STATUSES, QueueFilter, QueuePage, cameras, next_pending, queue_page
from review_app.views.common import CASE, Ctx, go, show_flash
from review_app.views.signin import signed_in_fetch

ALL = "all"
# Row colours: red for overdue, amber for due within two days.
COLOURS = {Urgency.OVERDUE: "background-color: #f8d0d0", Urgency.DUE_SOON: "background-color: #fbe6b8"}


def render(ctx: Ctx) -> None:
    st.title("Review queue")
    show_flash()
    flt = _filters(ctx)
    result = queue_page(ctx.store, flt, page=st.session_state.get("queue_page", 0))
    st.session_state["queue_page"] = result.page
    a, b, c = st.columns(3)
    a.metric("Matching cases", result.total)
    b.metric("Overdue", result.overdue)
    c.metric("Due within 2 days", result.due_soon)
    st.button("Review the most urgent case", type="primary", key="review_next", on_click=_review_next, args=(ctx,))
    if not result.rows:
        st.info("No cases match.")
        return
    # A fresh key after each opening, so the row clicked last time is not still selected on return.
    table = f"queue_table-{st.session_state.get('queue_opened', 0)}"
    st.dataframe(_styled(result), hide_index=True, width="stretch", key=table, on_select=partial(_open, table, result),
                 selection_mode=["single-row", "single-cell"])  # a click on any cell, or on the row's box
    _pager(result)
    download_button(f"Download CSV ({result.total} matching cases)", "queue_csv",
                    signed_in_fetch(ctx, partial(_csv, ctx, flt)))
    with st.form("open_case", border=False):
        st.selectbox("Case", [r.id for r in result.rows], key="open_case_id")
        st.form_submit_button("Open case", on_click=lambda: go(CASE, st.session_state["open_case_id"]))


def _review_next(ctx: Ctx) -> None:
    # Looked up on the click, not on every render of the queue; none left: the case page says so.
    st.session_state.pop("case_id", None)
    go(CASE, next_pending(ctx.store))


def _open(table: str, result: QueuePage) -> None:
    """A click on a row opens its case."""
    selection = st.session_state[table].selection
    rows = selection.rows or [row for row, _ in selection.cells]
    if rows:
        st.session_state["queue_opened"] = st.session_state.get("queue_opened", 0) + 1
        go(CASE, result.rows[rows[0]].id)


def _csv(ctx: Ctx, flt: QueueFilter) -> Download:
    return Download(queue_csv(ctx.store, ctx.user, flt).csv.encode(), "queue.csv", "text/csv")


def _filters(ctx: Ctx) -> QueueFilter:
    reset = {"on_change": lambda: st.session_state.update(queue_page=0)}
    a, b, c, d, e = st.columns(5)
    status = a.selectbox("Status", [*STATUSES, ALL], key="queue_status", **reset)
    camera = b.selectbox("Camera", [ALL, *_cameras(ctx.store)], key="queue_camera", **reset)
    date_from = c.date_input("From (day seen)", value=None, key="queue_from", **reset)
    date_to = d.date_input("To", value=None, key="queue_to", **reset)
    plate = e.text_input("Plate contains", key="queue_plate", **reset)
    return QueueFilter(None if status == ALL else status, None if camera == ALL else camera, date_from, date_to,
                       plate or None)


@st.cache_data(ttl=60, show_spinner=False, hash_funcs={Store: lambda store: str(store.path)})
def _cameras(store: Store) -> list[str]:
    # A new camera appears with a night's batch: a minute's delay is nothing, a query per click is.
    return cameras(store)


def _styled(result: QueuePage) -> pd.io.formats.style.Styler:
    table = pd.DataFrame(
        {
            "Days left": [r.days_left for r in result.rows],
            "Due": [describe(r.days_left) for r in result.rows],  # the one wording, as on the case page
            "Plate": [r.plate or "(no read)" for r in result.rows],
            "Camera": [r.camera_id for r in result.rows],
            "Seen": [r.seen for r in result.rows],
            "Deadline": [r.deadline for r in result.rows],
            "Status": [r.status for r in result.rows],
            "Case": [r.id for r in result.rows],
        }
    )
    colours = [COLOURS.get(r.urgency, "") for r in result.rows]
    return table.style.apply(lambda row: [colours[row.name]] * len(row), axis=1)


def _pager(result: QueuePage) -> None:
    if result.pages == 1:
        return
    a, b, c = st.columns([1, 2, 1])
    a.button("Previous", disabled=result.page == 0, key="queue_prev",
             on_click=lambda: st.session_state.update(queue_page=result.page - 1))
    b.caption(f"Page {result.page + 1} of {result.pages}")
    c.button("Next", disabled=result.page + 1 >= result.pages, key="queue_next",
             on_click=lambda: st.session_state.update(queue_page=result.page + 1))
