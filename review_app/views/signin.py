"""Sign-in: no page renders until an officer or supervisor from the users file has signed in.

The session's signed token rides in the URL (`?s=...`, review_app.services.sessions), so a refresh
or a bookmark of the page keeps the officer signed in until sign-out or expiry; every run re-checks
it, so signing out in one tab ends the others. Attempts go through the throttle (services.throttle).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from review_app.components.download import Download
from review_app.services.sessions import Session, Sessions
from review_app.services.throttle import sign_in
from review_app.services.users import User
from review_app.views.common import Ctx

TOKEN = "s"  # query parameter carrying the session token


def require_user(ctx: Ctx) -> User:
    session = current_session(ctx)
    if session is not None:
        st.session_state["user"] = session.user
        if st.query_params.get(TOKEN) != session.token:
            st.query_params[TOKEN] = session.token
        st.sidebar.markdown(f"Signed in as **{session.user.name}** ({session.user.role})")
        st.sidebar.button("Sign out", on_click=_sign_out, args=(ctx, session), key="sign_out")
        return session.user
    st.title("Bus lane review: sign in")
    if "user" in st.session_state:  # signed out in another tab, or the session expired
        _clear_state()
        st.info("Your session has ended: sign in again.")
    elif TOKEN in st.query_params:  # a stale link
        st.query_params.pop(TOKEN)
    if not ctx.users.users():
        st.error(f"No users yet in {ctx.config.users}: add one with `buslane users add NAME --role supervisor`.")
        st.stop()
    with st.form("sign_in"):
        name = st.text_input("Name", key="sign_in_name")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        result = sign_in(ctx.store, ctx.users, name, password, client())
        if result.user is not None:
            session = Sessions(ctx.store, ctx.users).start(result.user, client())
            st.session_state["session_token"] = session.token
            st.query_params[TOKEN] = session.token  # ?case=ID, if the link had one, stays: the app opens it
            st.rerun()
        st.error(result.message)
    st.stop()


def current_session(ctx: Ctx) -> Session | None:
    """This browser session's sign-in, checked against the database now (None once signed out anywhere)."""
    token = st.session_state.get("session_token") or st.query_params.get(TOKEN)
    session = Sessions(ctx.store, ctx.users).resume(token)
    if session is not None:
        st.session_state["session_token"] = session.token
    return session


def signed_in_fetch(ctx: Ctx, fetch: Callable[[], Download | None]) -> Callable[[], Download | None]:
    """`fetch` for a download button, run only if this session is still signed in when the click arrives."""
    def checked() -> Download | None:
        session = current_session(ctx)
        return fetch() if session is not None and session.user == ctx.user else None
    return checked


def client() -> str:
    """The client's address as the web server reports it (uvicorn honours X-Forwarded-For only from a
    trusted proxy address: FORWARDED_ALLOW_IPS, default 127.0.0.1); None there means this machine."""
    address = st.context.ip_address
    return address if isinstance(address, str) else "localhost"  # not a str: no web server (AppTest)


def _sign_out(ctx: Ctx, session: Session) -> None:
    Sessions(ctx.store, ctx.users).end(session)
    _clear_state()


def _clear_state() -> None:
    for key in list(st.session_state):
        del st.session_state[key]
    st.query_params.pop(TOKEN, None)
