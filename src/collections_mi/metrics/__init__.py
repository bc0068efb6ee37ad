"""Metrics: pure, typed functions from contract tables (Ibis expressions) and config to tables and KPIs.

Money is exact (Decimal) end to end; the engine sums exact decimals, FX conversion happens on the
aggregated sums in Decimal (closing-rate conversion is linear, so this equals converting each item).
"""
