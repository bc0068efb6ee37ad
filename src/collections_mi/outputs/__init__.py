"""Outputs: what a pack publishes beside its results — HTML pages, the Excel workbook, the restatement against the
previous version — and publishing a folder atomically."""
