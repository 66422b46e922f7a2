"""Shift handover: what the next shift takes over, and the notes the outgoing shift leaves."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from review_app.services.handover import add_note, handover
from review_app.services.timefmt import local_text
from review_app.views.common import Ctx, flash, show_flash

NOTES_TZ = "Europe/London"


def render(ctx: Ctx) -> None:
    st.title("Shift handover")
    show_flash()
    h = handover(ctx.store)
    a, b, c = st.columns(3)
    a.metric("Pending cases", h.pending)
    b.metric("Overdue", h.overdue)
    c.metric("Due within 2 days", h.due_soon)
    st.subheader("Cameras reported faulty by the batch")
    if h.faulty_cameras:
        for camera in h.faulty_cameras:
            st.error("\n".join(camera.lines()))
    else:
        st.caption("None.")
    st.subheader(f"Open whitelist gaps ({len(h.gaps)})")
    if h.gaps:
        st.dataframe(pd.DataFrame({"Plate": [g.plate for g in h.gaps], "Category": [g.category for g in h.gaps],
                                   "Note": [g.note or "" for g in h.gaps]}), hide_index=True, key="handover_gaps")
    st.subheader("Notes for the next shift")
    with st.form("handover_note", clear_on_submit=True):
        text = st.text_area("Leave a note (outstanding actions, jobs in hand)", key="handover_text")
        if st.form_submit_button("Add note"):
            if add_note(ctx.store, ctx.user, text):
                flash("success", "Note added.")
                st.rerun()
            st.error("The note is empty: write what the next shift should know, then add it.")
    for note in h.notes:
        st.markdown(f"**{note.officer}**, {local_text(note.at, NOTES_TZ)}: {note.note}")
