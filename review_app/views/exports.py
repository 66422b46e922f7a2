"""Supervisors hand validated cases to the back office: the penalty processing export, as `buslane export pcn`.

Two steps, as for a case's pack: **Make export** records it (cases, who, when, in the history) and
builds any missing pack into the packs folder beside the database; the file is then offered through
the session-checked download button, and each download is audited with the file's sha256.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evidence.pack.builder import PackError
from evidence.settings import resolve_root
from export.cases import ExportError
from export.pcn import FORMATS, KIND, export_pcn
from export.record import Recorded
from pipeline.store import audit
from review_app.components.download import Download, download_button
from review_app.services.timefmt import local_text
from review_app.views.common import Ctx, flash, show_flash
from review_app.views.signin import signed_in_fetch

TZ = "Europe/London"
MIME = {"csv": "text/csv", "json": "application/json"}


def packs_folder(ctx: Ctx):
    return ctx.config.db.resolve().parent / "exports" / "packs"


def render(ctx: Ctx) -> None:
    st.title("Exports to penalty processing")
    show_flash()
    if not ctx.user.is_supervisor:
        st.warning("Only a supervisor can export cases to penalty processing.")
        return
    waiting = ctx.store.query("SELECT count(*) AS n FROM contraventions WHERE status = 'validated' AND id NOT IN"
                              " (SELECT unnest(cases) FROM exports WHERE kind = ?)", [KIND])[0]["n"]
    st.metric("Validated cases not yet exported", waiting)
    st.caption(f"Each export's evidence packs are kept in {packs_folder(ctx)} for the back office.")
    fmt = st.radio("Format", FORMATS, horizontal=True, key="export-format")
    st.button("Make export", key="export-make", on_click=_make, args=(ctx, fmt), disabled=not waiting)
    made: Recorded | None = st.session_state.get("export-made")
    if made:
        download_button(f"Download {made.file_name} ({len(made.cases)} cases)", f"export-file-{made.export_id}",
                        signed_in_fetch(ctx, lambda: _download(ctx, made)))
    rows = ctx.store.query("SELECT id, kind, created_by, created_at, file_name, len(cases) AS cases, sha256"
                           " FROM exports ORDER BY created_at DESC LIMIT 50")
    st.subheader("Recent exports")
    if rows:
        st.dataframe(pd.DataFrame({
            "Export": [r["id"] for r in rows], "Kind": [r["kind"] for r in rows],
            "By": [r["created_by"] for r in rows], "When": [local_text(r["created_at"], TZ) for r in rows],
            "File": [r["file_name"] for r in rows], "Cases": [r["cases"] for r in rows],
            "sha256": [r["sha256"] for r in rows]}), hide_index=True, width="stretch", key="exports_table")
    else:
        st.caption("No exports yet.")


def _make(ctx: Ctx, fmt: str) -> None:
    try:
        made = export_pcn(ctx.store, ctx.user.name, fmt, f"pcn_{pd.Timestamp.now(TZ):%Y%m%d_%H%M%S}.{fmt}",
                          resolve_root(ctx.store), packs_folder(ctx))
    except (ExportError, PackError) as e:
        flash("error", f"Nothing exported: {e}")
        return
    st.session_state["export-made"] = made
    flash("success", f"Export {made.export_id} recorded: {len(made.cases)} cases, sha256 {made.sha256}")


def _download(ctx: Ctx, made: Recorded) -> Download:
    with ctx.store.transaction() as con:
        audit(con, ctx.user.name, "export.downloaded", "exports", made.export_id, file=made.file_name,
              sha256=made.sha256)
    return Download(made.data, made.file_name, MIME[made.file_name.rsplit(".", 1)[1]])
