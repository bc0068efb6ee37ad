"""The documentation follows the code: README § Architecture's KPI catalogue is generated from the section registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from collections_mi.metrics.sections import SECTIONS
from collections_mi.presentation.catalog import END, START, kpi_catalogue, with_catalogue

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_kpi_catalogue_is_the_registry_s() -> None:
    text = README.read_text(encoding="utf-8")
    assert with_catalogue(text) == text, "README § Architecture's KPI catalogue is stale: run `make readme`"


def test_the_catalogue_names_every_kpi_id_and_the_file_that_computes_it() -> None:
    catalogue = kpi_catalogue()
    for section in SECTIONS.values():
        assert section.kpis.ids(), section.name
        for kpi in section.kpis.ids():
            row = next(line for line in catalogue.splitlines() if line.startswith(f"| `{kpi}` |"))
            module = f"src/collections_mi/metrics/{section.compute.__module__.rsplit('.', 1)[1]}.py"
            assert f"`{section.compute.__name__}` in `{module}`" in row
            assert (Path(__file__).resolve().parents[1] / module).is_file()
    assert "| `dso` | DSO & collection KPIs | `compute_dso` in `src/collections_mi/metrics/dso.py` |" in catalogue


def test_a_readme_without_the_block_is_refused_not_silently_left_alone() -> None:
    with pytest.raises(ValueError, match="no catalogue block") as refused:
        with_catalogue("# a README without the markers\n")
    assert START in str(refused.value) and END in str(refused.value)
