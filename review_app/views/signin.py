"""Sign-in: no page renders until an officer or supervisor from the users file has signed in."""

from __future__ import annotations

import streamlit as st

from pipeline.store import audit
from review_app.services.users import User
from review_app.views.common import Ctx


def require_user(ctx: Ctx) -> User:
    user: User | None = st.session_state.get("user")
    if user is not None:
        st.sidebar.markdown(f"Signed in as **{user.name}** ({user.role})")
        st.sidebar.button("Sign out", on_click=_sign_out, key="sign_out")
        return user
    st.title("Bus lane review: sign in")
    if not ctx.users.users():
        st.error(f"No users yet in {ctx.config.users}: add one with `buslane users add NAME --role supervisor`.")
        st.stop()
    with st.form("sign_in"):
        name = st.text_input("Name", key="sign_in_name")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        user = ctx.users.authenticate(name, password)
        with ctx.store.transaction() as con:
            audit(con, user.name if user else name.strip().lower() or "(blank)",
                  "review.sign_in" if user else "review.sign_in_failed", "user", name.strip().lower())
        if user is not None:
            st.session_state["user"] = user
            st.rerun()
        st.error("Name or password not recognised.")
    st.stop()


def _sign_out() -> None:
    for key in list(st.session_state):
        del st.session_state[key]
