"""The review app's entry point: `buslane review --db PATH` runs `streamlit run` on this file.

Sign-in first; then the page chosen in the sidebar. Pages only render: decisions are made by
review_app.services. The URL names the case on screen (`?case=ID`): a refresh, or a link sent to a
colleague, opens that case once signed in; `?page=NAME` opens a page. A supervisor's page is not in
an officer's sidebar, and opened by a link it says it is for supervisors.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from review_app.views import case, dashboard, exports, gaps, handover, queue, sites
from review_app.views.common import (CASE, CASE_PARAM, DASHBOARD, EXPORTS, GAPS, HANDOVER, PAGE_PARAM, PAGES, QUEUE,
                                     SITES, context, go, pages_for)
from review_app.views.signin import require_user

RENDER = {QUEUE: queue.render, CASE: case.render, GAPS: gaps.render, DASHBOARD: dashboard.render,
          HANDOVER: handover.render, EXPORTS: exports.render, SITES: sites.render}

st.set_page_config(page_title="Bus lane review", layout="wide")
ctx = context()
user = require_user(ctx)
if "linked" not in st.session_state:  # this browser session's first signed-in run: follow ?case=ID
    st.session_state["linked"] = True
    if linked_case := st.query_params.get(CASE_PARAM):
        go(CASE, linked_case)
    elif (linked_page := st.query_params.pop(PAGE_PARAM, None)) in PAGES:
        go(linked_page)
if "nav_to" in st.session_state:  # set by a page (e.g. "Open case") before this run's sidebar exists
    st.session_state["page"] = st.session_state.pop("nav_to")
wanted = st.session_state.get("page")
page = st.sidebar.radio("Page", pages_for(user), key="page")
if wanted in PAGES and wanted != page:  # the sidebar refused a page it does not list: that page says why
    page = wanted
if st.session_state.get("last_page") != page:
    st.session_state.pop("viewed", None)  # coming back to a case counts as a new view
    st.session_state["last_page"] = page
RENDER[page](replace(ctx, user=user))
# Keep the case on screen in the URL, so that a refresh comes back to it.
shown = st.session_state.get("case_id") if page == CASE else None
if st.query_params.get(CASE_PARAM) != shown:
    if shown:
        st.query_params[CASE_PARAM] = shown
    else:
        st.query_params.pop(CASE_PARAM, None)
