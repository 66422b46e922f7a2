"""What every page shares: the app context, navigation between pages and one-shot messages."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from pipeline.store import Store
from review_app.config import AppConfig
from review_app.services.users import User, UsersFile

QUEUE, CASE, GAPS, DASHBOARD, HANDOVER = "Queue", "Case", "Whitelist gaps", "Dashboard", "Shift handover"
EXPORTS, SITES = "Exports", "Sites"
PAGES = (QUEUE, CASE, GAPS, DASHBOARD, HANDOVER, EXPORTS, SITES)
SUPERVISOR_PAGES = (SITES,)  # not in an officer's sidebar (the page itself refuses them too)
CASE_PARAM = "case"  # ?case=ID opens that case
PAGE_PARAM = "page"  # ?page=NAME opens that page


@dataclass(frozen=True)
class Ctx:
    config: AppConfig
    store: Store
    users: UsersFile
    user: User | None = None


@st.cache_resource(show_spinner=False)
def _store(db: str) -> Store:
    # A Store holds no connection (each operation opens and closes one), so sessions can share it.
    return Store(db)


def context() -> Ctx:
    config = AppConfig.from_env()
    return Ctx(config, _store(str(config.db)), UsersFile(config.users))


def pages_for(user: User) -> tuple[str, ...]:
    """The pages in this user's sidebar."""
    return PAGES if user.is_supervisor else tuple(p for p in PAGES if p not in SUPERVISOR_PAGES)


def go(page: str, case_id: str | None = None) -> None:
    """Open a page on the next run; usable from a callback or before st.rerun()."""
    st.session_state["nav_to"] = page
    if case_id is not None:
        st.session_state["case_id"] = case_id


def flash(kind: str, message: str) -> None:
    """Show `message` once, on the next run (kind: success, error, warning, info)."""
    st.session_state["flash"] = (kind, message)


def show_flash() -> None:
    if "flash" in st.session_state:
        kind, message = st.session_state.pop("flash")
        getattr(st, kind)(message)
