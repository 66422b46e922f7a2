"""The officers' review app: Streamlit pages in views/, business rules in services/."""
