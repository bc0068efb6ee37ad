"""The validation gate: the one check every pack, metrics run and backfill passes before computing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from collections_mi.config.params import Params
from collections_mi.core.errors import ValidationFailed
from collections_mi.sources.ledger import Ledger
from collections_mi.validation.report import ValidationReport
from collections_mi.validation.runner import validate


def validate_ledger(ledger: Ledger, params: Params, failed_dir: Callable[[], Path] | None = None) -> ValidationReport:
    """Run the validation gate; on failure save the full report and raise ValidationFailed."""
    report = validate(ledger, params)
    if not report.ok:
        saved = ""
        if failed_dir is not None:
            folder = failed_dir()
            (folder / "validation.txt").write_text(report.render_text(), encoding="utf-8")
            (folder / "validation.html").write_text(report.render_html(), encoding="utf-8")
            (folder / "validation.json").write_text(
                json.dumps(report.to_dict(), indent=1, default=str), encoding="utf-8"
            )
            saved = f"\nFull report: {folder / 'validation.html'}"
        raise ValidationFailed(
            f"validation failed: {len(report.failures)} problem(s) in the input data; nothing was published\n\n"
            f"{report.render_text()}{saved}",
            report,
            hint="correct the source data as shown above and run again",
        )
    return report
