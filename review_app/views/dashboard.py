"""The supervisor's view of the 14-day target: what is pending, what is late, who decided what."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from pipeline.accuracy import accuracy, rejection_jumps
from review_app.services.dashboard import Dashboard, OnTime, dashboard
from review_app.services.timefmt import local_text
from review_app.views.common import Ctx

TZ = "Europe/London"
WHOLE = alt.Axis(tickMinStep=1, format="d")  # counts of cases: no half cases on an axis


def render(ctx: Ctx) -> None:
    st.title("Dashboard")
    d = dashboard(ctx.store)
    a, b = st.columns(2)
    a.metric("Pending", sum(n for _, n in d.pending_by_band))
    b.metric("Overdue", d.overdue)
    bands = pd.DataFrame(d.pending_by_band, columns=["Days left", "Cases"])
    st.subheader("Pending cases by days left")
    st.altair_chart(alt.Chart(bands).mark_bar().encode(x=alt.X("Days left", sort=None),
                                                        y=alt.Y("Cases:Q", axis=WHOLE)), width="stretch")
    _target(d)
    st.subheader("Decisions per officer per day")
    if d.decisions:
        st.dataframe(pd.DataFrame(d.decisions, columns=["Day", "Officer", "Decisions"]), hide_index=True,
                     key="decisions_table")
    else:
        st.caption("No decisions yet.")
    st.subheader("Contraventions per camera by hour of day (camera-local time)")
    per_hour = pd.DataFrame(d.per_camera_hour, columns=["Camera", "Hour", "Contraventions"])
    st.altair_chart(
        alt.Chart(per_hour).mark_bar().encode(x=alt.X("Hour:O", scale=alt.Scale(domain=list(range(24)))),
                                              y=alt.Y("Contraventions:Q", axis=WHOLE), color="Camera",
                                              tooltip=list(per_hour.columns)),
        width="stretch",
    )
    _cameras(ctx)


def _cameras(ctx: Ctx) -> None:
    """What the officers' decisions say about each camera, per ISO week (pipeline.accuracy)."""
    st.subheader("Cameras by the officers' decisions")
    weeks = accuracy(ctx.store)
    if not weeks:
        st.caption("No decisions yet.")
        return
    for jump in rejection_jumps(weeks):
        st.warning(f"{jump.camera_id}: {jump.text()}")
    st.dataframe(pd.DataFrame({
        "Camera": [w.camera_id for w in weeks], "Week": [w.week for w in weeks], "Decided": [w.decided for w in weeks],
        "Validated": [f"{w.validated_share:.0%}" for w in weeks], "Rejected": [f"{w.rejected_share:.0%}" for w in weeks],
        "Rejections by reason": [w.reasons_text for w in weeks],
        "Plates corrected": [w.corrected for w in weeks],
        "Corrected positions": [w.positions_text for w in weeks],
        "Whitelist gaps": [w.gaps for w in weeks],
        "Median hours to decision": [round(w.median_hours_to_decision, 1) for w in weeks]}),
        hide_index=True, width="stretch", key="camera_accuracy")


def _target(d: Dashboard) -> None:
    st.subheader("Decided within 14 days")
    st.caption("By the UK calendar, first decision on or before the deadline's day. A week counts the cases "
               "seen that week that are decided or past their deadline.")
    if not d.on_time_by_week:
        st.caption("No case has reached its deadline or been decided yet.")
        return
    week, officer = st.columns(2)
    week.dataframe(_shares(d.on_time_by_week, "Week seen (Monday)"), hide_index=True, key="on_time_week")
    officer.dataframe(_shares(d.on_time_by_officer, "Officer"), hide_index=True, key="on_time_officer")
    st.subheader(f"Late decisions ({len(d.late)})")
    if d.late:
        st.dataframe(pd.DataFrame({
            "Case": [x.case_id for x in d.late], "Officer": [x.officer for x in d.late],
            "Decided": [local_text(x.decided_at, TZ) for x in d.late],
            "Deadline": [local_text(x.deadline, TZ) for x in d.late],
            "Days late": [x.days_late for x in d.late]}), hide_index=True, width="stretch", key="late_table")
    else:
        st.caption("None.")


def _shares(rows: tuple[OnTime, ...], label: str) -> pd.DataFrame:
    return pd.DataFrame({label: [r.group for r in rows], "Within 14 days": [r.within for r in rows],
                         "Counted": [r.counted for r in rows], "Share": [f"{r.share:.0%}" for r in rows]})
