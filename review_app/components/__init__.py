"""Small custom Streamlit components (plain HTML and JS, no build step)."""
