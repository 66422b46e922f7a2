"""Plain-Python rules of the review app, each module one job; the Streamlit views only call these."""
