"""Runs: the only floor that orchestrates — a pack (validate, compute, execute notebooks, render, publish, record),
a metrics run and a backfill, each as named stages."""
