"""Benchmarks that print figures (never timed assertions): `buslane bench speed`, `buslane bench lanes`."""
