"""The supervisor's view of the 14-day target: what is pending, what is late, who decided what."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from review_app.services.dashboard import dashboard
from review_app.views.common import Ctx


def render(ctx: Ctx) -> None:
    st.title("Dashboard")
    d = dashboard(ctx.store)
    a, b = st.columns(2)
    a.metric("Pending", sum(n for _, n in d.pending_by_band))
    b.metric("Overdue", d.overdue)
    bands = pd.DataFrame(d.pending_by_band, columns=["Days left", "Cases"])
    st.subheader("Pending cases by days left")
    st.altair_chart(alt.Chart(bands).mark_bar().encode(x=alt.X("Days left", sort=None), y="Cases"),
                    width="stretch")
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
                                              y="Contraventions", color="Camera", tooltip=list(per_hour.columns)),
        width="stretch",
    )
