"""Store: persistence of computed results — a pack's kpis.json and tables/ (exact text) and the month-end history
(Parquet). No computation."""
