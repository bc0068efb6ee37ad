"""Presentation: number formatting, HTML tables and KPI tiles, plotly charts. No IO, no computation of metrics."""
