"""Streamlit pages: each renders one screen and calls review_app.services for every decision."""
