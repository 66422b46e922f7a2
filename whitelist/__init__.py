"""The approved-vehicle whitelist: import, versions, matching and whitelist gaps."""
