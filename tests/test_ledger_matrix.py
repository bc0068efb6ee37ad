"""The optional-data matrix (shared/data-contract.md §1): every optional table and column absent, header-only or
all-null, and as-of dates before the data starts — the metrics command still runs, KPIs that do not use the missing
data are unchanged, and KPIs that need it are omitted from kpis.json (never 0, never null).

Variants come from tests/ledger_matrix.py (derived from collections_mi.core.contract.TABLES). Expectations are data:
KPI_INPUTS below says which inputs each KPI id *needs* (missing → the KPI is absent) and which only change its
*value* (missing → present, and equal to the independent oracle, tests/oracle.py, computed on the variant).
Everything else must equal the full ledger's figure.

Runtime: one demo ledger (400 invoices) per session; each variant costs one preloaded `collections-mi metrics`
(validation included). About 45 variants.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

import oracle_cash

import ledger_matrix as lm
import oracle
from conftest import NO_BROWSER, built_once, cli, cli_preloaded, cli_record, completed, write_params

REPORTING = "USD"
BASE_AS_OF = dt.date(2026, 10, 31)
DEMO = {"invoices": 400, "seed": 7}

# ------------------------------------------------------------------------------------------ what each KPI uses
#
# "needs": inputs without which the KPI cannot be computed → it must be ABSENT from kpis.json.
# "value": inputs that change the KPI's value but not its existence → it must be present and equal the oracle
#          computed on the variant (or, for KPIs the oracle does not compute, merely present).
# An input is "table" (absent or no rows) or "table.column" (absent or every cell null). Required tables/columns
# are never missing except payments' rows (payments is required but may have no rows).
#
# Judgement calls, for the lead to confirm (data-contract.md §1 read literally: "present with no rows" = missing):
#  - empty adjustments → write_offs / recoveries / bad_debt_expense absent (not 0), like a dropped table;
#  - empty agency_collections → agency_collected / fees / net_back / liquidation absent; agency_placed stays;
#  - empty loan_cash_flows, null loans.collateral_value or null loans.cost_to_sell_rate → specific_reserve and
#    total_reserve absent (computing PV = 0 or "no selling costs" would be treating missing data as zero);
#    watchlist_loans / watchlist_balance / general_reserve stay;
#  - null loans.impairment_method keeps its documented meaning ("null = general reserve only"): every loan gets the
#    general reserve and specific_reserve is 0 — present, equal to the oracle;
#  - null loans.status: no loan is excluded as reo/closed — present, equal to the oracle;
#  - null invoices.currency keeps its documented meaning (reporting currency) — present, equal to the oracle;
#  - gl_balances only chooses allowance_opening's source: without it the opening is computed (oracle) and
#    bad_debt_expense follows; both stay present;
#  - customers.*, invoices.disputed, promises, agencies.strategy, agency_placements.recalled_date: no headline KPI.
#  - as of a date with no rows of a dated optional table yet (agency placements, loan snapshots) that table counts
#    as having no rows; as of the day before the first invoice the AR sums may be 0 or absent.
AR = ("payments", "adjustments", "invoices.currency")  # what an open balance in reporting currency depends on
COUNTS = ("payments", "adjustments")  # what "is it open / settled" depends on (original currency)
FORECAST = (*AR, "promises", "disputes", "disputes.resolved_on", "invoices.disputed", "customers.segment")

KPI_INPUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "ar_total": {"value": AR},
    "open_items": {"value": COUNTS},
    "past_due_total": {"value": AR},
    "dso": {"value": AR},
    "dso_countback": {"value": AR},
    "bpdso": {"value": AR},
    "add": {"value": AR},
    "cei_pct": {"value": AR},
    "days_late_simple": {"value": COUNTS},
    "days_to_pay_simple": {"value": COUNTS},
    "days_late_weighted": {"value": AR},
    "days_to_pay_weighted": {"value": AR},
    "allowance_total": {"value": AR},
    "allowance_opening": {"value": (*AR, "gl_balances")},
    "write_offs": {"needs": ("adjustments",), "value": ("invoices.currency",)},
    "recoveries": {"needs": ("adjustments",), "value": ("invoices.currency",)},
    "bad_debt_expense": {"needs": ("adjustments",), "value": (*AR, "gl_balances")},
    "watchlist_loans": {"needs": ("loans",)},
    "watchlist_balance": {"needs": ("loans",)},
    "general_reserve": {"needs": ("loans",), "value": ("loans.impairment_method", "loans.status")},
    # decided (README § What you get): a collateral loan without collateral_value cannot be measured → absent; an
    # empty cost_to_sell_rate is 0 (stated in the conventions); a header-only loan_cash_flows means no cash expected
    # (the PV formula's own answer), so only the value changes
    "specific_reserve": {
        "needs": ("loans", "loans.collateral_value"),
        "value": ("loans.impairment_method", "loans.status", "loans.cost_to_sell_rate", "loan_cash_flows"),
    },
    "total_reserve": {
        "needs": ("loans", "loans.collateral_value"),
        "value": ("loans.impairment_method", "loans.status", "loans.cost_to_sell_rate", "loan_cash_flows"),
    },
    "agency_placed": {"needs": ("agencies", "agency_placements")},
    # decided: placements with a header-only agency_collections have collected nothing yet (a true 0, e.g. a new
    # agency programme); the three agency tables are one group, so "absent" is the whole group
    "agency_collected": {"needs": ("agencies", "agency_placements"), "value": ("agency_collections",)},
    "agency_fees": {"needs": ("agencies", "agency_placements"), "value": ("agency_collections",)},
    "agency_net_back": {"needs": ("agencies", "agency_placements"), "value": ("agency_collections",)},
    "agency_liquidation_pct": {"needs": ("agencies", "agency_placements"), "value": ("agency_collections",)},
    # v1.1 (metrics.md); checked as soon as the library emits them
    # resolved_on / applied_on null = still open / still unapplied (the contract's meaning): values, not needs
    "ar_net": {"needs": ("unapplied_cash",), "value": (*AR, "unapplied_cash.applied_on", "unapplied_cash.currency")},
    "unapplied_cash_total": {
        "needs": ("unapplied_cash",),
        "value": ("unapplied_cash.applied_on", "unapplied_cash.currency"),
    },
    "disputes_open": {"needs": ("disputes",), "value": ("disputes.resolved_on",)},
    "disputed_open_total": {"needs": ("disputes",), "value": (*AR, "disputes.resolved_on", "disputes.amount")},
    "dispute_days_to_resolve": {"needs": ("disputes", "disputes.resolved_on")},
    "terms_weighted": {"value": ("invoices.currency",)},
    "dbt_weighted": {"value": AR},
    "on_time_pct": {"value": AR},
    "top10_share_pct": {"value": AR},
    "hhi": {"value": AR},
    # the forecast (tests/oracle_cash.py): a customer without enough settled invoices takes its segment's days
    # beyond terms; disputed items add the mean days to resolve (0 without resolved_on); the back-test's WAPE and
    # bias are absent when no cash came in after its month-ends (the oracle says None)
    "forecast_13w_total": {"value": FORECAST},
    "forecast_wape_pct": {"value": FORECAST},
    "forecast_bias_pct": {"value": FORECAST},
}

#: pack pages (html/<stem>.html) → inputs whose absence must show "Not available" on that page
PAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "01_aging": ("customers.segment", "customers.region", "customers.collector"),
    "02_dso": ("promises", "customers.risk_score"),
    "03_allowance": ("adjustments",),
    "04_watchlist": ("loans",),
    "05_agency": ("agency_placements",),
}


# ------------------------------------------------------------------------------------------ fixtures


def _variant_names() -> list[str]:
    """Variant names for parametrisation, from a throw-away copy of the same deterministic demo."""
    from collections_mi.demo import generate_demo

    with tempfile.TemporaryDirectory() as folder:
        generate_demo(Path(folder), **DEMO)
        return [v.name for v in lm.variants(Path(folder), REPORTING)]


VARIANT_NAMES = _variant_names()


def _matrix_demo(work: Path) -> None:
    from collections_mi.demo import generate_demo

    generate_demo(work / "ledger", **DEMO)


@pytest.fixture(scope="session")
def matrix_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo ledger the matrix is cut from (one per run; tests must not edit it)."""
    return built_once(tmp_path_factory, "matrix-source", _matrix_demo)[0] / "ledger"


@pytest.fixture(scope="session")
def matrix_variants(matrix_source: Path) -> dict[str, lm.Variant]:
    return {v.name: v for v in lm.variants(matrix_source, REPORTING)}


def run_metrics(params: Path):
    return checked_kpis(cli_preloaded("metrics", "--params", str(params)))


def checked_kpis(run: subprocess.CompletedProcess[str]):
    """The KPIs `collections-mi metrics` printed; the test fails if it did not exit 0 with a JSON object."""
    problems = []
    if run.returncode != 0:
        problems.append(f"exit {run.returncode}")
    if "Traceback" in run.stderr:
        problems.append("traceback in stderr")
    kpis = None
    try:
        kpis = json.loads(run.stdout, parse_float=Decimal, parse_constant=lambda c: f"<{c}>")
    except ValueError:
        problems.append("stdout is not JSON")
    if kpis is not None and not isinstance(kpis, dict):
        problems.append("stdout is not a JSON object")
    if problems:
        pytest.fail(f"{'; '.join(problems)}\n{last_error(run.stderr)}\n--- stderr tail ---\n{run.stderr[-3000:]}")
    return kpis


def last_error(stderr: str) -> str:
    """The one-line cause: the last 'SomeError: message' line of a traceback, else the last non-empty line."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    frames = re.findall(r'File ".*?/collections_mi/([\w/]+\.py)", line (\d+), in (\w+)', stderr)
    where = f" (at {frames[-1][0]}:{frames[-1][1]} in {frames[-1][2]})" if frames else ""
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", line.strip()):
            return line.strip()[:300] + where
    return (lines[-1] if lines else "(no stderr)")[:300]


@pytest.fixture(scope="session")
def full_kpis(matrix_source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The KPIs of the whole matrix ledger, computed once per run."""

    def build(work: Path) -> dict:
        params = write_params(work, matrix_source, as_of=str(BASE_AS_OF))
        return cli_record(cli_preloaded("metrics", "--params", str(params)))

    _, record = built_once(tmp_path_factory, "matrix-full-kpis", build)
    return checked_kpis(completed(record, ["collections-mi", "metrics"]))


# ------------------------------------------------------------------------------------------ expectations


def _close(actual, expected) -> bool:
    actual, expected = Decimal(str(actual)), Decimal(str(expected))
    return abs(actual - expected) <= Decimal("1e-9") * max(Decimal(1), abs(expected))


def oracle_kpis(folder: Path, as_of: dt.date) -> dict[str, Decimal | int | None]:
    """The oracle's figures for the ledger in ``folder`` as of ``as_of`` (None = undefined, e.g. a zero denominator,
    or an input the ledger lacks)."""
    from collections_mi.config.params import load_params

    params = load_params(write_params(folder.parent, folder, as_of=str(as_of), name="oracle-params.yaml"))
    ledger = oracle.Ledger(folder, REPORTING)
    result: dict[str, Decimal | int | None] = {}
    result.update(
        {k: v for k, v in oracle.aging(ledger, as_of).items() if k in ("ar_total", "open_items", "past_due_total")}
    )
    family = oracle.dso_family(ledger, as_of)
    result.update(
        {
            k: family[k]
            for k in (
                "dso",
                "dso_countback",
                "bpdso",
                "add",
                "cei_pct",
                "days_late_simple",
                "days_late_weighted",
                "days_to_pay_simple",
                "days_to_pay_weighted",
            )
        }
    )
    result.update(oracle.payment_behaviour(ledger, as_of))
    shares = oracle.concentration(ledger, as_of)
    result.update({k: shares[k] for k in ("top10_share_pct", "hhi")})
    rates = params.allowance_rates
    result["allowance_total"] = oracle.allowance(ledger, as_of, "aging_rates", rates)
    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    gl = [r for r in (ledger.gl or []) if r.account == "allowance" and oracle.day(r.period_end) == previous]
    result["allowance_opening"] = (
        Decimal(gl[0].amount) if gl else oracle.allowance(ledger, previous, "aging_rates", rates)
    )
    if ledger.adjustments is not None:
        invoices = {r.invoice_id: r for r in ledger.invoices}
        for kind, kpi in (("write_off", "write_offs"), ("recovery", "recoveries")):
            result[kpi] = sum(
                (
                    Decimal(r.amount)
                    * ledger.rate(invoices[r.invoice_id].currency or REPORTING, oracle.day(r.adjustment_date))
                    for r in ledger.adjustments
                    if r.kind == kind and as_of.replace(day=1) <= oracle.day(r.adjustment_date) <= as_of
                ),
                Decimal(0),
            )
        result["bad_debt_expense"] = (
            result["allowance_total"] - result["allowance_opening"] + result["write_offs"] - result["recoveries"]
        )
    # disputes and unapplied cash: a table without rows dated on or before as_of counts as missing (data-contract.md
    # §1: "present with no rows" = missing), so the KPIs are absent then
    found = oracle.disputes(ledger, as_of, params.dso.window_months)
    if found is not None and any(oracle.day(r.opened_on) <= as_of for r in ledger.disputes or []):
        result.update({k: found[k] for k in ("disputes_open", "disputed_open_total", "dispute_days_to_resolve")})
    else:
        result.update(dict.fromkeys(("disputes_open", "disputed_open_total", "dispute_days_to_resolve")))
    cash = oracle.unapplied(ledger, as_of)
    if cash is not None and any(oracle.day(r.receipt_date) <= as_of for r in ledger.unapplied_cash or []):
        result.update({k: cash[k] for k in ("unapplied_cash_total", "ar_net")})
    else:
        result.update(dict.fromkeys(("unapplied_cash_total", "ar_net")))
    result.update(oracle_cash.forecast_kpis(folder, as_of))
    with contextlib.suppress(TypeError, ValueError, KeyError):  # no loans / no snapshot ≤ as_of
        result.update(oracle.watchlist_reserves(folder, as_of, params.watchlist.general_rates))
    with contextlib.suppress(TypeError, ValueError, ArithmeticError):  # no placements ≤ as_of
        result.update(oracle.agency_totals(folder, as_of))
    return result


def expectations(variant: lm.Variant, full: dict, folder: Path) -> tuple[set[str], dict[str, object], set[str]]:
    """(KPI ids that must be absent, KPI id → expected value, KPI ids that must merely be present)."""
    as_of = variant.as_of or BASE_AS_OF
    absent: set[str] = set()
    values: dict[str, object] = {}
    present: set[str] = set()
    truth = None
    for kpi in full:
        inputs = KPI_INPUTS[kpi]
        if any(i in variant.missing for i in inputs.get("needs", ())):
            absent.add(kpi)
            continue
        if variant.as_of is None and not any(i in variant.missing for i in inputs.get("value", ())):
            values[kpi] = full[kpi]
            continue
        truth = oracle_kpis(folder, as_of) if truth is None else truth
        if kpi not in truth:
            present.add(kpi)
        elif truth[kpi] is None:
            absent.add(kpi)
        else:
            values[kpi] = truth[kpi]
    return absent, values, present


# ------------------------------------------------------------------------------------------ tests


def test_every_kpi_has_declared_inputs(full_kpis: dict) -> None:
    """A new KPI must be added to KPI_INPUTS (else the matrix cannot say what it may lose)."""
    assert not set(full_kpis) - set(KPI_INPUTS), sorted(set(full_kpis) - set(KPI_INPUTS))


def test_full_ledger_agrees_with_the_oracle(full_kpis: dict, matrix_source: Path) -> None:
    """The yardstick: on the full ledger the library and the oracle agree, so the oracle may judge the variants."""
    truth = oracle_kpis(matrix_source, BASE_AS_OF)
    wrong = {k: (full_kpis[k], truth[k]) for k in full_kpis if k in truth and not _close(full_kpis[k], truth[k])}
    assert not wrong


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_metrics_on_variant(
    name: str, matrix_variants: dict, matrix_source: Path, full_kpis: dict, tmp_path: Path
) -> None:
    variant = matrix_variants[name]
    folder = lm.write_variant(matrix_source, variant, tmp_path / "ledger")
    params = write_params(tmp_path, folder, as_of=str(variant.as_of or BASE_AS_OF))
    kpis = run_metrics(params)

    problems = []
    not_numbers = {
        k: v
        for k, v in kpis.items()
        if isinstance(v, bool) or not isinstance(v, (int, Decimal)) or (isinstance(v, Decimal) and not v.is_finite())
    }
    if not_numbers:
        problems.append(f"not numbers: {not_numbers}")
    absent, values, present = expectations(variant, full_kpis, folder)
    lenient_zero = variant.name == "as_of:day_before_first_invoice"
    shown = sorted(k for k in absent if k in kpis)
    if shown:
        problems.append(f"should be absent (inputs missing): {', '.join(f'{k}={kpis[k]}' for k in shown)}")
    missing = sorted(
        k for k in (set(values) | present) - set(kpis) if not (lenient_zero and k in values and values[k] == 0)
    )
    if missing:
        problems.append(f"missing from kpis.json: {', '.join(missing)}")
    wrong = [
        f"{k}={kpis[k]} (expected {values[k]})"
        for k in sorted(values)
        if k in kpis and k not in not_numbers and not _close(kpis[k], values[k])
    ]
    if wrong:
        problems.append(f"wrong values: {'; '.join(wrong)}")
    assert not problems, f"{name}: " + " | ".join(problems)


def test_a_table_whose_rows_all_come_after_as_of_counts_as_empty(tiny_ledger: Path, tmp_path: Path) -> None:
    """Availability is measured as of D: the tiny ledger's only adjustment is dated 2026-10-05, so as of 2026-09-30
    the write-off figures are absent — the same kpis.json as the ledger without an adjustments table — and as of
    2026-10-31 they are there (a credit note, no write-off: 0)."""
    september = run_metrics(write_params(tmp_path, tiny_ledger, as_of="2026-09-30", name="with.yaml"))
    assert "write_offs" not in september and "bad_debt_expense" not in september
    assert september["ar_total"] == Decimal("2250.50")
    without = tmp_path / "without"
    shutil.copytree(tiny_ledger, without)
    (without / "adjustments.csv").unlink()
    assert run_metrics(write_params(tmp_path, without, as_of="2026-09-30", name="without.yaml")) == september
    october = run_metrics(write_params(tmp_path, tiny_ledger, as_of="2026-10-31", name="october.yaml"))
    assert october["write_offs"] == 0 and october["recoveries"] == 0


# ------------------------------------------------------------------------------------------ pack pages


class _Text(HTMLParser):
    """The visible text nodes of a page: no <script> (plotly's bundle and figure JSON), <style>, or attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.nodes: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.nodes.append(data.strip())


BAD_CELLS = {"None", "nan", "NaN", "NaT", "<NA>", "null", "inf", "-inf", "None%", "nan%"}
BAD_PATTERNS = [
    (re.compile(r"Traceback"), "Traceback"),
    (re.compile(r"\b\w*(KeyError|TypeError|ValueError|AttributeError|IndexError|ZeroDivisionError)\b"), "exception"),
    (re.compile(r"(?<![\w-])(nan|NaN|NaT)(?![\w-])"), "nan"),
    (re.compile(r"(?<![\w-])None(?=\s*(%|days?\b|USD|EUR|GBP|$))"), "None as a value"),
    (re.compile(r"[\d,.]+\s*None|None\s*[\d,.]+"), "None as a value"),
]


def page_problems(path: Path) -> list[str]:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    problems = []
    for node in parser.nodes:
        if node in BAD_CELLS:
            problems.append(f"{path.name}: cell {node!r}")
        for pattern, what in BAD_PATTERNS:
            if pattern.search(node):
                problems.append(f"{path.name}: {what} in {node[:120]!r}")
    return problems


def visible_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parser.nodes)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["minimal", "all_empty"])
def test_pack_on_variant(name: str, matrix_variants: dict, matrix_source: Path, tmp_path: Path) -> None:
    from collections_mi.metrics.sections import SECTIONS

    variant = matrix_variants[name]
    folder = lm.write_variant(matrix_source, variant, tmp_path / "ledger")
    params = write_params(tmp_path, folder, as_of=str(BASE_AS_OF))
    # the minimal ledger's pack prints pack.pdf and draws the email's charts; the empty one's pages are what is read
    run = cli(
        "pack",
        "--params",
        str(params),
        "--out",
        str(tmp_path / "reports"),
        env=NO_BROWSER if name == "all_empty" else None,
    )
    assert run.returncode == 0, f"{name}: pack failed: {last_error(run.stderr)}\n{run.stderr[-3000:]}"
    published = tmp_path / "reports" / BASE_AS_OF.strftime("%Y-%m")
    pages = [published / "index.html", *sorted((published / "html").glob("*.html"))]
    problems = [p for page in pages for p in page_problems(page)]
    index = visible_text(published / "index.html")
    titles = {s.notebook: s.title for s in SECTIONS.values()}
    for stem, inputs in PAGE_INPUTS.items():
        lacking = [i for i in inputs if i in variant.missing]
        if not lacking:
            continue
        page = published / "html" / f"{stem}.html"
        if page.exists():
            if "Not available" not in visible_text(page):
                problems.append(f"{page.name}: no 'Not available' although the ledger lacks {', '.join(lacking)}")
        elif "Not available" not in index or titles.get(stem, stem) not in index:
            problems.append(
                f"{stem}: no page, and index.html does not say '{titles.get(stem, stem)}' is "
                f"not available (ledger lacks {', '.join(lacking)})"
            )
    if 'class="mi-tile-value">–<' in (published / "index.html").read_text(encoding="utf-8"):
        problems.append("index.html: a headline tile shows a bare dash instead of 'Not available' and why")
    kpis = json.loads((published / "kpis.json").read_text(), parse_float=Decimal)
    for kpi, inputs in KPI_INPUTS.items():
        if kpi in kpis and any(i in variant.missing for i in inputs.get("needs", ())):
            problems.append(f"kpis.json has {kpi}={kpis[kpi]} although its inputs are missing")
    assert not problems, f"{name}: " + " | ".join(problems[:40])


def test_page_checker_sees_a_rendered_none(tmp_path: Path) -> None:
    """The page checker itself: flags None/nan cells and tracebacks, ignores scripts and prose."""
    page = tmp_path / "page.html"
    page.write_text(
        "<html><script>var x = {None: 1, nan: NaN}; Traceback</script><style>.nan{}</style>"
        "<p>None of the items is disputed.</p><td>1,234.00</td><td>None</td><td>nan</td>"
        "<p>KeyError: 'segment'</p></html>"
    )
    problems = page_problems(page)
    assert any("'None'" in p for p in problems) and any("'nan'" in p for p in problems)
    assert any("exception" in p for p in problems)
    assert not any("None of the items" in p for p in problems)
