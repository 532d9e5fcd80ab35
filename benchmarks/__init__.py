"""Reproducible performance runs; each prints a ratio against a baseline measured in
the same run, so results compare across machines."""
