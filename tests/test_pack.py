"""End to end through the public CLI: `collections-mi pack` executes the notebooks with Papermill on a small
demo ledger, and its kpis.json / tables agree with the independent oracle to the cent. Bad input exits
non-zero with a message naming the culprit and leaves the published report byte-identical."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest

from collections_mi.presentation import format as fmt

from conftest import NO_BROWSER, PROGRESS_LINE, ROOT, cli, write_params
from oracle import Ledger as OracleLedger
from oracle import aging as oracle_aging

pytestmark = pytest.mark.slow


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_pack_publishes_every_output(published) -> None:
    _, out, run = published
    folder = out / "2026-10"
    for relative in (
        "index.html",
        "html/01_aging.html",
        "executed/01_aging.ipynb",
        "kpis.json",
        "tables/aging.csv",
        "run.json",
    ):
        assert (folder / relative).is_file(), relative
    assert "index.html" in run.stdout
    assert "without encryption" not in run.stderr and "WARNING" not in run.stderr  # no kernel noise (issue 19 § 8)
    assert not (out / ".staging").exists() or not any((out / ".staging").iterdir())
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["period"] == "2026-10" and manifest["validation"]["ok"] is True
    assert manifest["source"]["row_counts"]["invoices"] == 3_000
    assert {"validate", "compute", "notebooks", "excel", "email charts", "html"} <= set(manifest["timings_seconds"])
    assert manifest["packages"]["papermill"] != "not installed"
    # the time printed is the run's, end to end: not the sum of the stages, some of which run beside the notebooks
    printed = float(re.search(r"Published .* in ([0-9.]+) s", run.stdout).group(1))
    span = dt.datetime.fromisoformat(manifest["finished_utc"]) - dt.datetime.fromisoformat(manifest["started_utc"])
    assert span.total_seconds() - 1 <= printed <= span.total_seconds() + 3


def test_kpis_and_aging_table_match_the_oracle(published, demo_ledger: Path) -> None:
    _, out, _ = published
    kpis = json.loads((out / "2026-10" / "kpis.json").read_text(), parse_float=Decimal)
    expected = oracle_aging(OracleLedger(demo_ledger), dt.date(2026, 10, 31))
    assert kpis["ar_total"] == expected["ar_total"]
    assert kpis["open_items"] == expected["open_items"]
    assert kpis["past_due_total"] == expected["past_due_total"]
    lines = (out / "2026-10" / "tables" / "aging.csv").read_text().splitlines()
    assert lines[0] == "bucket,items,amount,share_pct"
    for line in lines[1:]:
        bucket, items, amount, _ = line.split(",")
        assert Decimal(amount) == expected["buckets"].get(bucket, Decimal(0))
        assert int(items) == expected["counts"].get(bucket, 0)


def test_metrics_command_prints_the_same_kpis(published) -> None:
    """stdout is kpis.json's object alone; the stages go to stderr as the pack's do, each start and end."""
    params, out, _ = published
    run = cli("metrics", "--params", str(params))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == json.loads((out / "2026-10" / "kpis.json").read_text())
    assert stages(run.stderr) == [
        "opening source files:<ledger> …",
        "opening source files:<ledger> done",
        "validating input data …",
        "validating input data done",
        "computing aging, dso, allowance, watchlist, agency, cash …",
        "computing aging, dso, allowance, watchlist, agency, cash done",
    ]


def test_validate_command_shows_its_stages_and_what_passed(published) -> None:
    params, _, _ = published
    run = cli("validate", "--params", str(params))
    assert run.returncode == 0, run.stderr
    assert stages(run.stderr) == [
        "opening source files:<ledger> …",
        "opening source files:<ledger> done",
        "validating input data …",
        "validating input data done",
    ]
    assert re.fullmatch(r"validation passed: 321 checks in \d+\.\d s\n", run.stdout), run.stdout


@pytest.mark.parametrize("command", ["validate", "metrics", "pack"])
def test_a_password_in_the_source_url_never_reaches_the_terminal(command: str, tmp_path: Path) -> None:
    """Each command names its source as it opens it ("opening source ibis:postgres://…"): a password written into
    the URL (rather than in PGPASSWORD) is shown as ***, also when the connection then fails (nothing listens)."""
    url = "postgres://mi_reader:s3cret-Pa55@127.0.0.1:9/ledger"
    params = write_params(tmp_path, tmp_path, source={"kind": "ibis", "location": url})
    out = ["--out", str(tmp_path / "reports")] if command == "pack" else []
    run = cli(command, "--params", str(params), *out)
    assert run.returncode == 2, run.stderr
    assert "s3cret-Pa55" not in run.stdout + run.stderr
    assert "opening source ibis:postgres://mi_reader:***@127.0.0.1:9/ledger …" in run.stderr


def stages(stderr: str) -> list[str]:
    """The progress lines of ``stderr`` without their clock, period, folder and seconds; every line must be one."""
    shown = [PROGRESS_LINE.fullmatch(line) for line in stderr.splitlines()]
    assert all(m and m[1] == "2026-10" for m in shown), stderr
    return [re.sub(r" \(\d+\.\d s\)$", "", re.sub(r"files:\S+", "files:<ledger>", m[2])) for m in shown if m]


def test_html_is_offline_without_code_and_shows_the_same_numbers(published) -> None:
    _, out, _ = published
    folder = out / "2026-10"
    page = (folder / "html" / "01_aging.html").read_text()
    assert "cdn" not in page.lower().split("</head>", 1)[0] and "require.js" not in page
    # plotly.js once per pack (issue 19): the page loads the copy beside it, and has none inline
    assert re.findall(r"<script\b[^>]*\bsrc=[^>]*>", page) == ['<script src="plotly.min.js">']
    assert "plotly.js v" not in page and (folder / "html" / "plotly.min.js").is_file()
    assert "mi.setup()" not in page and "load_section" not in page  # no code cells
    assert page.count('class="plotly-graph-div"') >= 5
    kpis = json.loads((folder / "kpis.json").read_text(), parse_float=Decimal)
    # headline money is scaled for reading (USD 80.6m, issue 19): the same kpis.json value on the page and the index
    shown = fmt.money_short(kpis["ar_total"], "USD")
    assert re.fullmatch(r"USD \d+(\.\d)?[km]?", shown), shown
    assert shown in page and shown in (folder / "index.html").read_text()


def test_kpis_json_and_tables_hold_exactly_what_the_sections_declare(published) -> None:
    """Every KPI id the demo pack publishes is declared by its section (metrics/published.py) and every declared KPI
    and table is published (the demo ledger fills every optional column), in declared order."""
    from collections_mi.metrics.sections import SECTIONS

    _, out, _ = published
    folder = out / "2026-10"
    kpis = json.loads((folder / "kpis.json").read_text(), parse_float=Decimal)
    assert list(kpis) == [kpi for section in SECTIONS.values() for kpi in section.kpis.ids()]
    sections = json.loads((folder / "tables" / "_sections.json").read_text())
    assert list(sections) == list(SECTIONS)
    for name, section in SECTIONS.items():
        assert sections[name]["kpis"] == list(section.kpis.ids()), name
        assert sections[name]["tables"] == list(section.tables.files().values()), name
        assert sections[name]["unavailable"] == {}, name
    csv_names = {p.stem for p in (folder / "tables").glob("*.csv")}
    assert csv_names == {file for s in SECTIONS.values() for file in s.tables.files().values()}


#: the tiles heading the index page and the KPIs of the email, as the pack showed them before the headlines were
#: declared (presentation/headlines.py) rather than sliced
INDEX_TILES = [
    "Open receivables",
    "Open items",
    "Past due",
    "Past due share",
    "DSO",
    "Best possible DSO",
    "Average days delinquent",
    "Collection effectiveness",
    "Allowance",
    "Bad-debt expense (month)",
    "Loans on the watch list",
    "Total reserves",
    "Net-back after fees",
    "Liquidation",
    "Cash expected in 13 weeks",
    "Forecast error (WAPE)",
]
EMAIL_TILES = [
    "Open receivables",
    "Open items",
    "Past due",
    "Past due share",
    "DSO",
    "Best possible DSO",
    "Average days delinquent",
    "Collection effectiveness",
    "Days late (weighted)",
    "Allowance",
    "Bad-debt expense (month)",
    "Write-offs (month)",
    "Recoveries (month)",
    "Loans on the watch list",
    "Specific reserves",
    "General reserves",
    "Total reserves",
    "Placed with agencies",
    "Collected (gross)",
    "Net-back after fees",
    "Liquidation",
    "Cash expected in 13 weeks",
    "Forecast error (WAPE)",
    "Forecast bias",
]


def test_index_and_email_show_the_declared_headlines(published) -> None:
    """The index page and the email show each section's declared headline tiles, in order; each is a tile its
    section's page shows, named by a KPI id of the section (or aging's derived past-due share)."""
    import email
    from email.policy import default

    from collections_mi.delivery.email import kpi_lines
    from collections_mi.presentation import aging as aging_view
    from collections_mi.presentation import headlines
    from collections_mi.store.results import read_results

    _, out, _ = published
    folder = out / "2026-10"
    results = read_results(folder)
    assert [t["label"] for t in headlines.index_tiles(results, "USD")] == INDEX_TILES
    assert [line.label for line in kpi_lines(results, "USD")] == EMAIL_TILES
    for name, declared in headlines.HEADLINES.items():
        page = headlines.VIEWS[name].tiles(results[name], "USD")
        assert set(declared.index) <= set(page) and set(declared.email) <= set(page), name
        derived = set(aging_view.DERIVED_TILES) if name == "aging" else set()
        assert set(page) <= set(results[name].kpis.ids()) | derived, name
    index = (folder / "index.html").read_text()
    labels = re.findall(r'<div class="mi-tile-label">([^<]*)</div>', index)
    assert labels == [label.replace("&", "&amp;") for label in INDEX_TILES]
    message = email.message_from_bytes((folder / "email.eml").read_bytes(), policy=default)
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    _title, _sentences, rows, *_ = text.split("\n\n")
    width = max(len(label) for label in EMAIL_TILES)
    assert [row[:width].rstrip() for row in rows.splitlines()] == EMAIL_TILES


def test_long_lists_show_their_first_rows_and_how_many_the_csv_holds(published) -> None:
    """A page shows the first rows of a long list (only those are read) and says how many rows the table has: the
    count each page states is the row count of the tables/*.csv it names, and every list the demo makes longer
    than a page's rows says so."""
    import csv

    from collections_mi.presentation.display import LIST_ROWS

    _, out, _ = published
    folder = out / "2026-10"
    stated = {}
    for page in sorted((folder / "html").glob("*.html")):
        notes = re.findall(r"Showing ([\d,]+) of ([\d,]+) rows; ([\d,]+) more in tables/(\w+)\.csv", page.read_text())
        for shown, total, more, table in notes:
            stated[table] = int(total.replace(",", ""))
            assert int(shown) == LIST_ROWS and int(more.replace(",", "")) == stated[table] - LIST_ROWS, page.name
    for table, total in stated.items():
        with (folder / "tables" / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
            assert sum(1 for _ in csv.reader(handle)) - 1 == total, table
    assert {"aging_disputed_items", "write_off_candidates", "cash_forecast_by_customer", "cash_forecast_items"} <= set(
        stated
    )


def test_executed_notebooks_have_no_errors_warnings_or_tracebacks(published) -> None:
    _, out, _ = published
    executed = sorted((out / "2026-10" / "executed").glob("*.ipynb"))
    assert [p.stem for p in executed] == ["01_aging", "02_dso", "03_allowance", "04_watchlist", "05_agency", "06_cash"]
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                assert output.get("output_type") != "error", (path.name, output)
                assert output.get("name") != "stderr", (path.name, output.get("text"))
                text = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                assert "Traceback" not in text and "Warning:" not in text, (path.name, text[:300])
        page = (out / "2026-10" / "html" / f"{path.stem}.html").read_text()
        visible = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.DOTALL | re.IGNORECASE)
        assert "Traceback" not in visible and "Warning" not in visible, path.name
        assert 'class="jp-OutputArea-output" data-mime-type="application/vnd.jupyter.stderr"' not in page


def test_a_failing_notebook_is_kept_and_named_and_nothing_is_published(demo_ledger: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "notebooks").mkdir(parents=True)
    source = nbformat.read(ROOT / "notebooks" / "01_aging.ipynb", as_version=4)
    source.cells.insert(4, nbformat.v4.new_code_cell('raise RuntimeError("deliberate failure in cell 4")'))
    nbformat.write(source, home / "notebooks" / "01_aging.ipynb")
    params = write_params(tmp_path, demo_ledger)
    out = tmp_path / "reports"
    run = cli(
        "pack", "--params", str(params), "--out", str(out), "--only", "aging", env={"COLLECTIONS_MI_HOME": str(home)}
    )
    assert run.returncode == 3, run.stderr
    assert "01_aging" in run.stderr and "deliberate failure" in run.stderr
    assert not (out / "2026-10").exists()
    kept = list((out / "_failed").glob("2026-10-*/executed/01_aging.ipynb"))
    assert len(kept) == 1
    cells = nbformat.read(kept[0], as_version=4).cells
    assert any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", []))


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("duplicate_invoice", ["invoices", "invoice_id"]),
        ("orphan_payment", ["payments", "invoice_id", "NOPE-1"]),
        ("unknown_params_key", ["agingg", "unknown key"]),
    ],
)
def test_bad_input_fails_loudly_and_leaves_the_report_untouched(
    published, demo_ledger: Path, tmp_path: Path, breakage: str, expected: list[str]
) -> None:
    _, out, _ = published
    before = tree_digest(out / "2026-10")
    ledger = tmp_path / "ledger"
    shutil.copytree(demo_ledger, ledger)
    extra: dict = {}
    if breakage == "duplicate_invoice":
        lines = (ledger / "invoices.csv").read_text().splitlines()
        (ledger / "invoices.csv").write_text("\n".join(lines + [lines[1]]) + "\n")
    elif breakage == "orphan_payment":
        with (ledger / "payments.csv").open("a") as handle:
            handle.write("PAY-X1,NOPE-1,2026-10-01,10.00\n")
    else:
        extra = {"agingg": {"basis": "due_date"}}
    params = write_params(tmp_path, ledger, **extra)
    run = cli("pack", "--params", str(params), "--out", str(out))
    assert run.returncode == 2, run.stderr
    for word in expected:
        assert word in run.stderr
    assert tree_digest(out / "2026-10") == before


def test_rerun_is_byte_identical_and_keeps_the_previous_version(published, tmp_path: Path) -> None:
    params, shared, _ = published
    # a copy of its own: the rerun has no browser (no pack.pdf), and the worker's other tests read the shared one
    out = tmp_path / "reports"
    shutil.copytree(shared, out, symlinks=True)
    folder = out / "2026-10"
    first_run_id = json.loads((folder / "run.json").read_text())["run_id"]
    before = {k: v for k, v in tree_digest(folder).items() if k == "kpis.json" or k.startswith("tables/")}
    run = cli("pack", "--params", str(params), "--out", str(out), env=NO_BROWSER)
    assert run.returncode == 0, run.stderr
    after = {k: v for k, v in tree_digest(folder).items() if k == "kpis.json" or k.startswith("tables/")}
    assert after == before
    assert (out / ".history" / "2026-10" / first_run_id / "kpis.json").is_file()


def test_excel_workbook_matches_the_csv_tables(published) -> None:
    from openpyxl import load_workbook

    from collections_mi.store.results import read_results

    _, out, _ = published
    folder = out / "2026-10"
    workbook = load_workbook(folder / "tables.xlsx", read_only=True)
    results = read_results(folder)
    tables = {name: frame for r in results.values() for name, frame in r.tables.published().items()}
    assert workbook.sheetnames[:2] == ["Contents", "KPIs"] and len(workbook.sheetnames) == len(tables) + 2
    contents = [row[0] for row in workbook["Contents"].iter_rows(min_row=7, values_only=True)]
    assert contents == workbook.sheetnames[1:]  # one line per sheet, in order
    aging = list(workbook["Aging"].iter_rows(values_only=True))
    assert list(aging[0]) == ["Age bucket", "Items", "Amount", "Share of total (%)"]
    for row, (bucket, items, amount, share) in zip(
        aging[1:], zip(*(tables["aging"][c] for c in ("bucket", "items", "amount", "share_pct")))
    ):
        assert row[0] == bucket and row[1] == items
        assert Decimal(str(row[2])) == amount.quantize(Decimal("0.01"))  # rounded to the cent, exact in the CSV
        assert row[3] == pytest.approx(float(share / 100))
    sheet = load_workbook(folder / "tables.xlsx")["Aging"]
    assert sheet.freeze_panes == "A2" and sheet["C2"].number_format.startswith("#,##0.00")
    assert sheet["D2"].number_format == "0.0%" and sheet["B2"].number_format == "#,##0"


def test_declared_parameters_are_what_papermill_finds_and_a_missing_one_is_named(tmp_path: Path) -> None:
    """The pack checks every notebook declares the parameters it passes, reading the parameters cell with ast
    (papermill not imported in the pack process); papermill's own inspection is the oracle."""
    import papermill

    from collections_mi.core.errors import PackError
    from collections_mi.runs.pack import _check_declared_parameters, declared_parameters

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "explore").glob("*.ipynb"))
    assert len(notebooks) >= 6
    for notebook in notebooks:
        assert declared_parameters(notebook) == set(papermill.inspect_notebook(str(notebook))), notebook.name
    assert declared_parameters(ROOT / "notebooks" / "01_aging.ipynb") == {"params_path", "results_dir"}

    source = nbformat.read(ROOT / "notebooks" / "01_aging.ipynb", as_version=4)
    cell = next(c for c in source.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = 'params_path: str = "params/2026-10.yaml"'
    broken = tmp_path / "01_aging.ipynb"
    nbformat.write(source, broken)
    assert declared_parameters(broken) == {"params_path"}
    with pytest.raises(PackError, match="does not declare results_dir") as failure:
        _check_declared_parameters(broken, {"params_path": "p.yaml", "results_dir": "r"})
    assert "cell tagged `parameters`" in (failure.value.hint or "")
