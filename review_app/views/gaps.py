"""Open whitelist gaps, with the CSV to circulate to whoever keeps the approved-vehicle list."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from review_app.components.download import Download, download_button
from review_app.services.exports import gaps_csv
from review_app.services.gaps import gaps_export
from review_app.views.common import Ctx
from review_app.views.signin import signed_in_fetch


def render(ctx: Ctx) -> None:
    st.title("Permitted vehicles missing from the whitelist")
    export = gaps_export(ctx.store)
    if not export.gaps:
        st.info("No open whitelist gaps.")
        return
    st.dataframe(
        pd.DataFrame({
            "Plate": [g.plate for g in export.gaps],
            "Category": [g.category for g in export.gaps],
            "Note": [g.note or "" for g in export.gaps],
            "Case": [g.contravention_id or "" for g in export.gaps],
            "Flagged by": [g.flagged_by for g in export.gaps],
            "Flagged at": [g.flagged_at.strftime("%Y-%m-%d %H:%M") for g in export.gaps],
        }),
        hide_index=True, width="stretch", key="gaps_table",
    )
    download_button(f"Download CSV ({len(export.gaps)} open gaps)", "gaps_csv", signed_in_fetch(ctx, lambda: Download(
        gaps_csv(ctx.store, ctx.user).csv.encode(), "whitelist_gaps.csv", "text/csv")))
