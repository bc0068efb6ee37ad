"""Sources: open a ledger (files, DuckDB, an Ibis URL, Spark) as raw text views for validation and typed views for
metrics, and inspect a folder of ERP exports to propose the params that map it."""
