"""Tests of the demo ledger generator (the collections_mi.demo package).

The checks re-derive everything from the written files with plain pandas and ``Decimal``; they never call
the generator's internals.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collections_mi.core.contract import TABLES
from collections_mi.core.errors import ConfigError
from collections_mi.demo import DEMO_TABLES, DemoSummary, generate_demo
from collections_mi.demo import generate as demo_generate
from collections_mi.demo.schemas import EXTRA_COLUMNS as DEMO_EXTRA_COLUMNS

END = datetime.date(2026, 10, 31)
INVOICES = 3_000
SEED = 11
CENT = Decimal("0.01")

CONTRACT_COLUMNS = {
    "customers": ["customer_id", "name", "segment", "region", "collector", "credit_limit", "risk_score"],
    "invoices": ["invoice_id", "customer_id", "invoice_date", "due_date", "amount", "currency", "disputed"],
    "payments": ["payment_id", "invoice_id", "payment_date", "amount"],
    "adjustments": ["adjustment_id", "invoice_id", "adjustment_date", "kind", "amount"],
    "promises": ["promise_id", "customer_id", "promised_on", "due_by", "amount", "collector"],
    "disputes": ["dispute_id", "invoice_id", "opened_on", "resolved_on", "reason", "amount", "owner", "outcome"],
    "unapplied_cash": ["receipt_id", "customer_id", "receipt_date", "amount", "currency", "applied_on"],
    "fx_rates": ["rate_date", "currency", "rate"],
    "gl_balances": ["period_end", "account", "amount"],
    "agencies": ["agency_id", "name", "strategy"],
    "agency_placements": [
        "placement_id",
        "agency_id",
        "customer_id",
        "placed_date",
        "placed_amount",
        "fee_rate",
        "recalled_date",
    ],
    "agency_collections": ["collection_id", "placement_id", "collection_date", "amount"],
    "loans": [
        "as_of_date",
        "loan_id",
        "borrower",
        "balance",
        "effective_rate",
        "risk_grade",
        "days_past_due",
        "on_watch_list",
        "impairment_method",
        "collateral_value",
        "cost_to_sell_rate",
        "status",
    ],
    "loan_cash_flows": ["as_of_date", "loan_id", "flow_date", "amount"],
}
EXTRA_COLUMNS = {
    "customers": ["currency"],
    "invoices": ["terms_days"],
    "agencies": ["fee_rate_default"],
    "loans": ["segment", "watch_list_since"],
}
ID_COLUMNS = {
    "customers": "customer_id",
    "invoices": "invoice_id",
    "payments": "payment_id",
    "adjustments": "adjustment_id",
    "promises": "promise_id",
    "disputes": "dispute_id",
    "unapplied_cash": "receipt_id",
    "agencies": "agency_id",
    "agency_placements": "placement_id",
    "agency_collections": "collection_id",
}
MONEY_COLUMNS = {  # never empty
    "customers": ["credit_limit"],
    "invoices": ["amount"],
    "payments": ["amount"],
    "adjustments": ["amount"],
    "promises": ["amount"],
    "unapplied_cash": ["amount"],
    "gl_balances": ["amount"],
    "agency_placements": ["placed_amount"],
    "agency_collections": ["amount"],
    "loans": ["balance"],
    "loan_cash_flows": ["amount"],
}
NULLABLE_MONEY_COLUMNS = {"disputes": ["amount"], "loans": ["collateral_value"]}
DATE_COLUMNS = {  # never empty
    "invoices": ["invoice_date", "due_date"],
    "payments": ["payment_date"],
    "adjustments": ["adjustment_date"],
    "promises": ["promised_on", "due_by"],
    "disputes": ["opened_on"],
    "unapplied_cash": ["receipt_date"],
    "fx_rates": ["rate_date"],
    "gl_balances": ["period_end"],
    "agency_placements": ["placed_date"],
    "agency_collections": ["collection_date"],
    "loans": ["as_of_date"],
    "loan_cash_flows": ["as_of_date", "flow_date"],
}
NULLABLE_DATE_COLUMNS = {
    "disputes": ["resolved_on"],
    "unapplied_cash": ["applied_on"],
    "agency_placements": ["recalled_date"],
    "loans": ["watch_list_since"],
}
ORIGINAL_TABLES = ("customers", "invoices", "payments", "adjustments", "promises", "fx_rates", "gl_balances")
# sha256 of the seven receivables tables (CSV, INVOICES / SEED / END) written by the generator before the
# agency, loan, dispute and unapplied-cash tables were added: adding tables must not change a byte of the existing
# ones, except invoices.disputed, which the disputes decide (a dispute open at the last day); the invoices' digest
# is of the file without that column (INVOICES_WITH_THE_FLAG_SHA256: the whole file as written now)
ORIGINAL_CSV_SHA256 = {
    "customers": "474cd7bc852268d3796bcf4f837bfe23c8a79202d4fd723c496c39eb6057c2dc",
    "invoices": "c8ff2fecbe5a12e9b27a2ff600e0ecf39f35970ce2e0a76dd2e3e6a77260689b",
    "payments": "f620a5c546699f47d38348b34ab818ffec9f0fc1151e5e0b4ac02bacb0c51d0d",
    "adjustments": "0a3f8d4aaa0a43da6b128c4d36a00d06477d0eaae6fe0dc949f17b2f5cced1f3",
    "promises": "6582ccd085db36f88d3f2bdfdc8be4a34f0b2f0ec19e8e4499834efe6cd820fb",
    "fx_rates": "5a65c4c1528ef42b7078ddf71be7d0b854dcf0c9ac04a27702b03e2f6549d1d1",
    "gl_balances": "9088d6d40b83ade0c673755922d26442a6cb65c04a8ce317aad66ac5ef466570",
}
INVOICES_WITH_THE_FLAG_SHA256 = "312bc8f2a12da4ee0aa94e000f78b378e61e045dcf5721c1103350d1d32ed8ce"
RISK_GRADES = ["pass", "special_mention", "substandard", "doubtful", "loss"]
BALANCE_REDUCING_KINDS = ("credit_note", "discount", "write_off")
ALLOWANCE_RATES = [  # (upper bound of days past due, rate); None = no upper bound
    (0, Decimal("0.005")),
    (30, Decimal("0.02")),
    (60, Decimal("0.08")),
    (90, Decimal("0.2")),
    (120, Decimal("0.5")),
    (None, Decimal("1.0")),
]


# --------------------------------------------------------------------------------------------------
# Fixtures: one CSV and one Parquet ledger per module; tables read back as text
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_ledger(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    out = tmp_path_factory.mktemp("demo") / "nested" / "csv"  # does not exist yet
    return generate_demo(out, invoices=INVOICES, seed=SEED, end=END, fmt="csv")


@pytest.fixture(scope="module")
def parquet_ledger(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    out = tmp_path_factory.mktemp("demo_parquet")
    return generate_demo(out, invoices=INVOICES, seed=SEED, end=END, fmt="parquet")


def read_csv_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table as text, empty cell → empty string (null)."""
    return {
        table: pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False, encoding="utf-8")
        for table in DEMO_TABLES
    }


@pytest.fixture(scope="module")
def tables(csv_ledger: DemoSummary) -> dict[str, pd.DataFrame]:
    return read_csv_tables(csv_ledger.out_dir)


def money(text: str) -> Decimal:
    return Decimal(text)


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


class ClosingRates:
    """Latest rate dated on or before a day, per currency, from the fx_rates table."""

    def __init__(self, fx_rates: pd.DataFrame, reporting_currency: str) -> None:
        self.reporting_currency = reporting_currency
        self.by_currency: dict[str, list[tuple[datetime.date, Decimal]]] = defaultdict(list)
        for row in fx_rates.itertuples(index=False):
            self.by_currency[row.currency].append((day(row.rate_date), Decimal(row.rate)))
        for rates in self.by_currency.values():
            rates.sort()

    def rate(self, currency: str, on: datetime.date) -> Decimal:
        if currency == self.reporting_currency:
            return Decimal(1)
        candidates = [rate for rate_date, rate in self.by_currency[currency] if rate_date <= on]
        if not candidates:
            raise AssertionError(f"no {currency} rate on or before {on}")
        return candidates[-1]


def invoice_currency(invoices: pd.DataFrame, reporting_currency: str) -> pd.Series:
    return invoices["currency"].replace("", reporting_currency)


# --------------------------------------------------------------------------------------------------
# Determinism, files, summary
# --------------------------------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(csv_ledger: DemoSummary, tmp_path: Path) -> None:
    again = generate_demo(tmp_path / "again", invoices=INVOICES, seed=SEED, end=END, fmt="csv")
    for table in DEMO_TABLES:
        first = (csv_ledger.out_dir / f"{table}.csv").read_bytes()
        second = (again.out_dir / f"{table}.csv").read_bytes()
        assert first == second, f"{table}.csv differs between two runs with the same arguments"


def test_parquet_is_byte_identical_too(parquet_ledger: DemoSummary, tmp_path: Path) -> None:
    again = generate_demo(tmp_path, invoices=INVOICES, seed=SEED, end=END, fmt="parquet")
    for table in DEMO_TABLES:
        assert (parquet_ledger.out_dir / f"{table}.parquet").read_bytes() == (
            again.out_dir / f"{table}.parquet"
        ).read_bytes(), table


def test_another_seed_gives_another_ledger(csv_ledger: DemoSummary, tmp_path: Path) -> None:
    other = generate_demo(tmp_path, invoices=INVOICES, seed=SEED + 1, end=END, fmt="csv")
    assert (other.out_dir / "invoices.csv").read_bytes() != (csv_ledger.out_dir / "invoices.csv").read_bytes()


def test_writes_exactly_the_contract_tables_and_no_temporary_files(csv_ledger: DemoSummary) -> None:
    names = sorted(path.name for path in csv_ledger.out_dir.iterdir())
    assert names == sorted(f"{table}.csv" for table in DEMO_TABLES)
    assert set(DEMO_TABLES) == set(CONTRACT_COLUMNS)


def test_the_receivables_tables_are_unchanged_by_the_later_tables(csv_ledger: DemoSummary) -> None:
    for table in ORIGINAL_TABLES:
        content = (csv_ledger.out_dir / f"{table}.csv").read_bytes()
        if table == "invoices":
            assert hashlib.sha256(content).hexdigest() == INVOICES_WITH_THE_FLAG_SHA256
            header = content.decode("utf-8").split("\n", 1)[0].split(",")
            flag = header.index("disputed")
            lines = content.decode("utf-8").split("\n")  # no invoice cell holds a comma or a quote
            content = "\n".join(
                ",".join(c for i, c in enumerate(line.split(",")) if i != flag) for line in lines
            ).encode()
        digest = hashlib.sha256(content).hexdigest()
        assert digest == ORIGINAL_CSV_SHA256[table], f"{table}.csv changed"


def test_summary_describes_the_files(csv_ledger: DemoSummary, tables: dict[str, pd.DataFrame]) -> None:
    assert list(csv_ledger.row_counts) == list(DEMO_TABLES)
    for table in DEMO_TABLES:
        assert csv_ledger.row_counts[table] == len(tables[table]), table
    assert csv_ledger.row_counts["invoices"] == INVOICES
    assert csv_ledger.row_counts["customers"] == 2_000
    invoice_dates = tables["invoices"]["invoice_date"].map(day)
    assert csv_ledger.first_invoice_date == invoice_dates.min()
    assert csv_ledger.last_invoice_date == invoice_dates.max()
    assert csv_ledger.latest_month_end == END  # 2026-10-31 is a month-end
    assert csv_ledger.seconds > 0
    with pytest.raises(AttributeError):
        csv_ledger.seconds = 0.0  # type: ignore[misc]  # frozen


def test_progress_is_reported_per_chunk(tmp_path: Path) -> None:
    messages: list[str] = []
    generate_demo(tmp_path, invoices=500, seed=1, fmt="parquet", progress=messages.append)
    assert any("500/500" in message for message in messages)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("invoices", 0), ("seed", -1), ("months", 0), ("fmt", "xlsx"), ("reporting_currency", "JPY")],
)
def test_bad_arguments_are_refused_with_their_name(tmp_path: Path, argument: str, value: object) -> None:
    with pytest.raises(ConfigError, match=argument):
        generate_demo(tmp_path, **{argument: value})  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_writing_one_format_removes_the_other_formats_stale_tables(tmp_path: Path) -> None:
    generate_demo(tmp_path, invoices=300, seed=2, fmt="parquet")
    generate_demo(tmp_path, invoices=300, seed=3, fmt="csv")
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".csv"] * len(DEMO_TABLES)


# --------------------------------------------------------------------------------------------------
# Contract shape
# --------------------------------------------------------------------------------------------------


def test_contract_columns_are_present(tables: dict[str, pd.DataFrame]) -> None:
    for table, columns in CONTRACT_COLUMNS.items():
        expected = columns + EXTRA_COLUMNS.get(table, [])
        assert list(tables[table].columns) == expected, table


# how the demo's Parquet files store each contract type ("decimal" columns: at a scale of their own)
PARQUET_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "money": pa.decimal128(18, 2),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


def test_schemas_are_the_contracts_columns_then_the_declared_extras(parquet_ledger: DemoSummary) -> None:
    """Names, order and types follow core.contract; the only other columns are the demo's declared extras."""
    assert {table: [column.name for column in TABLES[table].columns] for table in DEMO_TABLES} == CONTRACT_COLUMNS
    assert {table: [name for name, _ in extras] for table, extras in DEMO_EXTRA_COLUMNS.items()} == EXTRA_COLUMNS
    for table in DEMO_TABLES:
        schema = pq.read_schema(parquet_ledger.out_dir / f"{table}.parquet")
        assert schema.names == CONTRACT_COLUMNS[table] + EXTRA_COLUMNS.get(table, []), table
        for column in TABLES[table].columns:
            written = schema.field(column.name).type
            if column.type == "decimal":
                assert pa.types.is_decimal(written) or pa.types.is_integer(written), f"{table}.{column.name}"
            else:
                assert written == PARQUET_TYPES[column.type], f"{table}.{column.name}"
    for table, extras in EXTRA_COLUMNS.items():
        assert not set(extras) & set(CONTRACT_COLUMNS[table]), f"{table}: an extra column is a contract column"


def test_ids_are_unique_and_well_formed(tables: dict[str, pd.DataFrame]) -> None:
    for table, column in ID_COLUMNS.items():
        ids = tables[table][column]
        assert ids.is_unique, f"{table}.{column} has duplicates"
        assert (ids != "").all()
    assert tables["customers"]["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert tables["invoices"]["invoice_id"].str.fullmatch(r"INV-\d{7}").all()


def test_references_resolve(tables: dict[str, pd.DataFrame]) -> None:
    customers = set(tables["customers"]["customer_id"])
    invoices = set(tables["invoices"]["invoice_id"])
    assert set(tables["invoices"]["customer_id"]) <= customers
    assert set(tables["payments"]["invoice_id"]) <= invoices
    assert set(tables["adjustments"]["invoice_id"]) <= invoices
    assert set(tables["promises"]["customer_id"]) <= customers


def test_money_is_printed_with_exactly_two_decimals(tables: dict[str, pd.DataFrame]) -> None:
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            assert tables[table][column].str.fullmatch(r"\d+\.\d{2}").all(), f"{table}.{column}"
    for table, columns in NULLABLE_MONEY_COLUMNS.items():
        for column in columns:
            values = tables[table][column]
            assert values[values != ""].str.fullmatch(r"\d+\.\d{2}").all(), f"{table}.{column}"
    assert tables["fx_rates"]["rate"].str.fullmatch(r"\d\.\d{6}").all()
    for table, column in (
        ("agency_placements", "fee_rate"),
        ("agencies", "fee_rate_default"),
        ("loans", "effective_rate"),
        ("loans", "cost_to_sell_rate"),
    ):
        values = tables[table][column]
        assert values[values != ""].str.fullmatch(r"0\.\d{4}").all(), f"{table}.{column}"


def test_amounts_positive_and_due_dates_not_before_invoice_dates(tables: dict[str, pd.DataFrame]) -> None:
    invoices = tables["invoices"]
    assert (invoices["amount"].map(money) > 0).all()
    assert (invoices["due_date"].map(day) >= invoices["invoice_date"].map(day)).all()
    terms = invoices["due_date"].map(day) - invoices["invoice_date"].map(day)
    assert (terms.map(lambda delta: delta.days) == invoices["terms_days"].astype(int)).all()
    assert set(invoices["terms_days"].astype(int)) <= {15, 30, 45, 60}
    for table in ("payments", "adjustments", "promises"):
        assert (tables[table]["amount"].map(money) > 0).all(), table
    assert set(invoices["disputed"]) == {"true", "false"}
    assert set(tables["adjustments"]["kind"]) == {"credit_note", "discount", "write_off", "recovery"}


def test_nothing_is_dated_after_end(tables: dict[str, pd.DataFrame]) -> None:
    not_after_end = {
        "invoices": ["invoice_date"],  # due_date may be later: that is current AR
        "payments": ["payment_date"],
        "adjustments": ["adjustment_date"],
        "promises": ["promised_on"],  # due_by may be later: a pending promise
        "disputes": ["opened_on", "resolved_on"],
        "unapplied_cash": ["receipt_date", "applied_on"],
        "fx_rates": ["rate_date"],
        "gl_balances": ["period_end"],
        "agency_placements": ["placed_date", "recalled_date"],
        "agency_collections": ["collection_date"],
        "loans": ["as_of_date", "watch_list_since"],
        "loan_cash_flows": ["as_of_date"],  # flow_date is in the future of its snapshot
    }
    for table, columns in not_after_end.items():
        for column in columns:
            values = tables[table][column]
            assert values[values != ""].map(day).max() <= END, f"{table}.{column}"
    assert tables["invoices"]["invoice_date"].map(day).max() >= END - datetime.timedelta(days=3)  # up to end


def test_dates_are_iso(tables: dict[str, pd.DataFrame]) -> None:
    for table, columns in DATE_COLUMNS.items():
        for column in columns:
            assert tables[table][column].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), f"{table}.{column}"
    for table, columns in NULLABLE_DATE_COLUMNS.items():
        for column in columns:
            values = tables[table][column]
            assert values[values != ""].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), f"{table}.{column}"
            assert (values != "").any() and (values == "").any(), f"{table}.{column}"


# --------------------------------------------------------------------------------------------------
# Ledger consistency
# --------------------------------------------------------------------------------------------------


def test_no_invoice_is_over_applied(tables: dict[str, pd.DataFrame]) -> None:
    applied: dict[str, Decimal] = defaultdict(Decimal)
    for row in tables["payments"].itertuples(index=False):
        applied[row.invoice_id] += money(row.amount)
    written_off: dict[str, Decimal] = defaultdict(Decimal)
    recovered: dict[str, Decimal] = defaultdict(Decimal)
    for row in tables["adjustments"].itertuples(index=False):
        if row.kind in BALANCE_REDUCING_KINDS:
            applied[row.invoice_id] += money(row.amount)
        if row.kind == "write_off":
            written_off[row.invoice_id] += money(row.amount)
        if row.kind == "recovery":
            recovered[row.invoice_id] += money(row.amount)
    amounts = dict(zip(tables["invoices"]["invoice_id"], tables["invoices"]["amount"].map(money), strict=True))
    over = {invoice: total for invoice, total in applied.items() if total > amounts[invoice]}
    assert not over, f"over-applied invoices: {list(over)[:5]}"
    assert all(recovered[invoice] <= written_off[invoice] for invoice in recovered)
    settled = sum(1 for invoice, total in applied.items() if total == amounts[invoice])
    assert settled > 0.75 * len(amounts)  # most invoices are settled, to the cent


def test_write_offs_are_at_month_ends_and_recoveries_come_after(tables: dict[str, pd.DataFrame]) -> None:
    adjustments = tables["adjustments"]
    write_offs = adjustments[adjustments["kind"] == "write_off"]
    assert len(write_offs) > 0
    for text in write_offs["adjustment_date"]:
        date = day(text)
        assert (date + datetime.timedelta(days=1)).day == 1, f"write-off on {date} is not at a month-end"
    write_off_date = dict(zip(write_offs["invoice_id"], write_offs["adjustment_date"].map(day), strict=True))
    for row in adjustments[adjustments["kind"] == "recovery"].itertuples(index=False):
        assert row.invoice_id in write_off_date
        assert day(row.adjustment_date) > write_off_date[row.invoice_id]


def test_gl_ar_control_and_allowance_match_an_independent_recomputation(tables: dict[str, pd.DataFrame]) -> None:
    expected = recompute_gl(tables, "USD")
    gl = tables["gl_balances"]
    actual = {(day(r.period_end), r.account): money(r.amount) for r in gl.itertuples(index=False)}
    assert actual == expected


def recompute_gl(tables: dict[str, pd.DataFrame], reporting_currency: str) -> dict[tuple[datetime.date, str], Decimal]:
    """AR and aging-rate allowance at each month-end in the invoice range, straight from the contract."""
    invoices = tables["invoices"].assign(
        amount=lambda t: t["amount"].map(money),
        invoice_date=lambda t: t["invoice_date"].map(day),
        due_date=lambda t: t["due_date"].map(day),
        currency=lambda t: invoice_currency(t, reporting_currency),
    )
    payments = tables["payments"].rename(columns={"payment_date": "date"})
    adjustments = tables["adjustments"]
    reductions = pd.concat(
        [
            payments[["invoice_id", "date", "amount"]],
            adjustments[adjustments["kind"].isin(BALANCE_REDUCING_KINDS)].rename(columns={"adjustment_date": "date"})[
                ["invoice_id", "date", "amount"]
            ],
        ]
    ).assign(amount=lambda t: t["amount"].map(money), date=lambda t: t["date"].map(day))
    rates = ClosingRates(tables["fx_rates"], reporting_currency)

    first = invoices["invoice_date"].min()
    month_ends = [stamp.date() for stamp in pd.date_range(first.replace(day=1), END, freq="ME")]
    result: dict[tuple[datetime.date, str], Decimal] = {}
    for month_end in month_ends:
        reduced = reductions[reductions["date"] <= month_end].groupby("invoice_id")["amount"].sum()
        issued = invoices[invoices["invoice_date"] <= month_end]
        balance = issued["amount"] - issued["invoice_id"].map(reduced).fillna(Decimal(0))
        ar_total = Decimal(0)
        allowance_total = Decimal(0)
        for currency, rows in issued.assign(balance=balance).groupby("currency"):
            rate = rates.rate(currency, month_end)
            ar_total += sum(rows["balance"], Decimal(0)) * rate
            days_past_due = rows["due_date"].map(lambda due, m=month_end: (m - due).days)
            lower = None
            for upper, loss_rate in ALLOWANCE_RATES:
                in_bucket = pd.Series(True, index=rows.index)
                if lower is not None:
                    in_bucket &= days_past_due > lower
                if upper is not None:
                    in_bucket &= days_past_due <= upper
                allowance_total += sum(rows.loc[in_bucket, "balance"], Decimal(0)) * loss_rate * rate
                lower = upper
        result[(month_end, "ar_control")] = ar_total.quantize(CENT, rounding=ROUND_HALF_UP)
        result[(month_end, "allowance")] = allowance_total.quantize(CENT, rounding=ROUND_HALF_UP)
    return result


def test_kept_promises_are_really_kept(tables: dict[str, pd.DataFrame]) -> None:
    """Contract: kept when the customer's payments dated in [promised_on, due_by] total ≥ amount."""
    rates = ClosingRates(tables["fx_rates"], "USD")
    invoices = tables["invoices"].assign(currency=lambda t: invoice_currency(t, "USD"))
    payments = tables["payments"].merge(invoices[["invoice_id", "customer_id", "currency"]], on="invoice_id")
    paid_by_customer: dict[str, list[tuple[datetime.date, Decimal]]] = defaultdict(list)
    for row in payments.itertuples(index=False):
        date = day(row.payment_date)
        paid_by_customer[row.customer_id].append((date, money(row.amount) * rates.rate(row.currency, date)))

    promises = tables["promises"]
    status: list[str] = []
    for row in promises.itertuples(index=False):
        promised_on, due_by = day(row.promised_on), day(row.due_by)
        assert 7 <= (due_by - promised_on).days <= 30
        in_window = [usd for date, usd in paid_by_customer[row.customer_id] if promised_on <= date <= due_by]
        if sum(in_window, Decimal(0)) >= money(row.amount):
            status.append("kept")
        else:
            status.append("broken" if due_by < END else "pending")
    assert len(status) > 50
    assert 0.60 <= status.count("kept") / len(status) <= 0.70
    assert status.count("broken") > 0


def test_promises_are_made_on_customers_with_past_due_items(tables: dict[str, pd.DataFrame]) -> None:
    invoices = tables["invoices"]
    earliest_due = invoices.assign(due=invoices["due_date"].map(day)).groupby("customer_id")["due"].min()
    for row in tables["promises"].itertuples(index=False):
        assert earliest_due[row.customer_id] < day(row.promised_on)


def test_collectors_of_promises_are_the_customers_collectors(tables: dict[str, pd.DataFrame]) -> None:
    collector = dict(zip(tables["customers"]["customer_id"], tables["customers"]["collector"], strict=True))
    promises = tables["promises"]
    assert (promises["collector"] == promises["customer_id"].map(collector)).all()
    assert tables["customers"]["collector"].nunique() == 8


def test_fx_rates_cover_business_days_from_ten_days_before_the_first_invoice(
    tables: dict[str, pd.DataFrame], csv_ledger: DemoSummary
) -> None:
    fx = tables["fx_rates"]
    dates = fx["rate_date"].map(day)
    assert set(fx["currency"]) == {"EUR", "GBP"}  # no rows for the reporting currency
    assert all(date.weekday() < 5 for date in dates)
    assert dates.min() <= csv_ledger.first_invoice_date - datetime.timedelta(days=10)
    assert dates.max() == datetime.date(2026, 10, 30)  # end is a Saturday: Friday's rate is the latest
    expected_days = pd.bdate_range(dates.min(), END).date
    for currency in ("EUR", "GBP"):
        assert list(dates[fx["currency"] == currency]) == list(expected_days)
    rate = fx["rate"].map(Decimal)
    assert rate[fx["currency"] == "EUR"].between(Decimal("1.05"), Decimal("1.15")).all()
    assert rate[fx["currency"] == "GBP"].between(Decimal("1.20"), Decimal("1.35")).all()


def test_customers_look_realistic(tables: dict[str, pd.DataFrame]) -> None:
    customers = tables["customers"]
    names = set(customers["name"])
    assert "Müller & Söhne GmbH" in names
    assert 'O\'Brien "Bros" <Ltd>' in names
    assert "Smith, Jones & Partners LLP" in names
    assert set(customers["segment"]) == {"Enterprise", "Mid-Market", "SMB", "Public"}
    assert set(customers["region"]) == {"North America", "EMEA", "APAC", "LATAM"}
    scores = customers["risk_score"]
    assert 0 < (scores == "").sum() < 0.05 * len(customers)
    assert scores[scores != ""].astype(int).between(300, 850).all()
    assert (customers["credit_limit"].map(money) > 0).all()


def test_receivables_have_realistic_features(tables: dict[str, pd.DataFrame]) -> None:
    invoices = tables["invoices"]
    customer_currency = dict(zip(tables["customers"]["customer_id"], tables["customers"]["currency"], strict=True))
    empty_currency = invoices[invoices["currency"] == ""]
    assert 0.02 < len(empty_currency) / (invoices["currency"].isin(["USD", ""])).sum() < 0.09
    assert (empty_currency["customer_id"].map(customer_currency) == "USD").all()
    assert set(invoices["currency"]) == {"USD", "EUR", "GBP", ""}

    payments = tables["payments"].merge(invoices[["invoice_id", "invoice_date", "due_date"]], on="invoice_id")
    assert (payments["payment_date"] < payments["invoice_date"]).any(), "no prepayments"
    parts = payments.groupby("invoice_id").size()
    assert 0.08 < (parts > 1).mean() < 0.25
    assert parts.max() <= 3

    # open AR at end has current and past-due items, including 120+ days past due
    balances = open_balances(tables, END)
    days_past_due = balances.index.map(
        dict(zip(invoices["invoice_id"], invoices["due_date"].map(lambda d: (END - day(d)).days), strict=True))
    )
    assert (days_past_due <= 0).any() and (days_past_due > 120).any()

    gl = tables["gl_balances"]
    ar = gl[gl["account"] == "ar_control"]["amount"].map(money)
    assert ar.nunique() == len(ar) == 26


def open_balances(tables: dict[str, pd.DataFrame], as_of: datetime.date) -> pd.Series:
    invoices = tables["invoices"]
    balance = dict(zip(invoices["invoice_id"], invoices["amount"].map(money), strict=True))
    for row in tables["payments"].itertuples(index=False):
        if day(row.payment_date) <= as_of:
            balance[row.invoice_id] -= money(row.amount)
    for row in tables["adjustments"].itertuples(index=False):
        if row.kind in BALANCE_REDUCING_KINDS and day(row.adjustment_date) <= as_of:
            balance[row.invoice_id] -= money(row.amount)
    series = pd.Series(balance)
    return series[series > 0]


# --------------------------------------------------------------------------------------------------
# Collection agencies
# --------------------------------------------------------------------------------------------------


def placements_with_totals(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    collections = tables["agency_collections"]
    collected = collections.assign(amount=collections["amount"].map(money)).groupby("placement_id")["amount"].sum()
    placements = tables["agency_placements"]
    return placements.assign(
        placed_amount=placements["placed_amount"].map(money),
        fee_rate=placements["fee_rate"].map(Decimal),
        placed_date=placements["placed_date"].map(day),
        recalled_date=placements["recalled_date"].map(lambda text: day(text) if text else None),
        collected=placements["placement_id"].map(collected).fillna(Decimal(0)),
    )


def test_agencies_are_two_champions_and_two_challengers(tables: dict[str, pd.DataFrame]) -> None:
    agencies = tables["agencies"]
    assert list(agencies["agency_id"]) == ["AG01", "AG02", "AG03", "AG04"]
    assert sorted(agencies["strategy"]) == ["challenger", "challenger", "champion", "champion"]
    assert agencies["name"].is_unique and (agencies["name"].str.len() > 5).all()
    assert agencies["fee_rate_default"].map(Decimal).between(Decimal("0.15"), Decimal("0.35")).all()


def test_agency_references_resolve(tables: dict[str, pd.DataFrame]) -> None:
    placements = tables["agency_placements"]
    assert len(placements) >= 10
    assert set(placements["agency_id"]) <= set(tables["agencies"]["agency_id"])
    assert set(placements["customer_id"]) <= set(tables["customers"]["customer_id"])
    assert placements["customer_id"].is_unique  # a customer is placed once
    assert set(tables["agency_collections"]["placement_id"]) <= set(placements["placement_id"])


def test_placements_respect_the_contract(tables: dict[str, pd.DataFrame]) -> None:
    placements = placements_with_totals(tables)
    assert (placements["placed_amount"] > 0).all()
    assert placements["fee_rate"].between(Decimal("0.15"), Decimal("0.35")).all()  # inside [0, 1)
    recalled = placements[placements["recalled_date"].notna()]
    assert len(recalled) > 0
    assert (recalled["recalled_date"] > recalled["placed_date"]).all()
    months_held = (recalled["recalled_date"] - recalled["placed_date"]).map(lambda delta: delta.days)
    assert months_held.between(120, 280).all()  # recalled after 4-9 months
    assert (placements["collected"] <= placements["placed_amount"]).all()
    assert (placements["collected"] > 0).any()


def test_collections_fall_between_placement_and_recall(tables: dict[str, pd.DataFrame]) -> None:
    placements = placements_with_totals(tables).set_index("placement_id")
    collections = tables["agency_collections"]
    assert (collections["amount"].map(money) > 0).all()
    for row in collections.itertuples(index=False):
        collected_on = day(row.collection_date)
        placement = placements.loc[row.placement_id]
        assert placement["placed_date"] <= collected_on <= END
        if pd.notna(placement["recalled_date"]):
            assert collected_on < placement["recalled_date"], row.collection_id


def test_placements_are_long_overdue_customers_placed_for_their_past_due_balance(
    tables: dict[str, pd.DataFrame],
) -> None:
    assert_placed_for_past_due_balance(tables, "USD")


def test_placements_are_exact_when_invoices_span_several_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past-due balances are accumulated chunk by chunk; a customer's items may sit in several chunks."""
    monkeypatch.setattr(demo_generate, "_BALANCE_MATRIX_CELLS", 1)  # → the smallest chunks, 10,000 invoices
    messages: list[str] = []
    generate_demo(tmp_path, invoices=25_000, seed=4, fmt="csv", reporting_currency="EUR", progress=messages.append)
    assert any("chunk 3/3" in message for message in messages)
    tables = read_csv_tables(tmp_path)
    assert len(tables["agency_placements"]) > 50
    assert_placed_for_past_due_balance(tables, "EUR")


def assert_placed_for_past_due_balance(tables: dict[str, pd.DataFrame], reporting_currency: str) -> None:
    """placed_amount = the customer's open past-due balance at placed_date, at the closing rate."""
    placements = placements_with_totals(tables)
    placed_customers = set(placements["customer_id"])
    invoices = tables["invoices"][tables["invoices"]["customer_id"].isin(placed_customers)]
    items_by_customer: dict[str, list[tuple[str, datetime.date, Decimal, str]]] = defaultdict(list)
    currency = invoice_currency(invoices, reporting_currency)
    for item, item_currency in zip(invoices.itertuples(index=False), currency, strict=True):
        items_by_customer[item.customer_id].append(
            (item.invoice_id, day(item.due_date), money(item.amount), item_currency)
        )
    wanted = set(invoices["invoice_id"])
    reductions: dict[str, list[tuple[datetime.date, Decimal]]] = defaultdict(list)
    adjustments = tables["adjustments"][tables["adjustments"]["kind"].isin(BALANCE_REDUCING_KINDS)]
    for frame, date_column in ((tables["payments"], "payment_date"), (adjustments, "adjustment_date")):
        frame = frame[frame["invoice_id"].isin(wanted)]
        for invoice_id, date, amount in zip(frame["invoice_id"], frame[date_column], frame["amount"], strict=True):
            reductions[invoice_id].append((day(date), money(amount)))
    rates = ClosingRates(tables["fx_rates"], reporting_currency)
    segment = dict(zip(tables["customers"]["customer_id"], tables["customers"]["segment"], strict=True))
    for row in placements.itertuples(index=False):
        placed = row.placed_date
        assert (placed + datetime.timedelta(days=1)).day == 1, "placements are made at month-ends"
        assert segment[row.customer_id] != "Public"
        total = Decimal(0)
        oldest_due = placed
        for invoice_id, due, amount, item_currency in items_by_customer[row.customer_id]:
            if due >= placed:
                continue  # not past due at placement
            balance = amount - sum((a for d, a in reductions[invoice_id] if d <= placed), Decimal(0))
            if balance > 0:
                total += balance * rates.rate(item_currency, placed)
                oldest_due = min(oldest_due, due)
        assert (placed - oldest_due).days >= 90, row.placement_id
        assert row.placed_amount == total.quantize(CENT, rounding=ROUND_HALF_UP), row.placement_id


@pytest.fixture(scope="module")
def default_size_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo (60,000 invoices, seed 7), as Parquet: the sizes and stories the pack shows."""
    out = tmp_path_factory.mktemp("demo_default")
    generate_demo(out, fmt="parquet")
    return out


def test_agency_story_at_the_default_size(default_size_ledger: Path) -> None:
    agencies = pq.read_table(default_size_ledger / "agencies.parquet").to_pandas()
    placements = pq.read_table(default_size_ledger / "agency_placements.parquet").to_pandas()
    collections = pq.read_table(default_size_ledger / "agency_collections.parquet").to_pandas()
    assert 200 <= len(placements) <= 500  # a few hundred
    assert 0.10 <= placements["recalled_date"].notna().mean() <= 0.20
    collected = collections.groupby("placement_id")["amount"].sum()
    placements["collected"] = placements["placement_id"].map(collected).fillna(Decimal(0))
    by_agency = placements.groupby("agency_id")[["placed_amount", "collected"]].sum()
    liquidation = by_agency["collected"] / by_agency["placed_amount"]
    assert liquidation.between(Decimal("0.08"), Decimal("0.35")).all()
    strategy = agencies.set_index("agency_id")["strategy"]
    count = placements.groupby("agency_id").size()
    assert count[strategy == "champion"].min() > count[strategy == "challenger"].max()  # champions get more
    # one challenger beats one champion, by a modest margin
    champions, challengers = liquidation[strategy == "champion"], liquidation[strategy == "challenger"]
    margin = challengers.max() - champions.min()
    assert Decimal("0.01") <= margin <= Decimal("0.10")
    # liquidation curves: most of the money comes in during the first six months
    merged = collections.merge(placements[["placement_id", "placed_date"]], on="placement_id")
    months = (pd.to_datetime(merged["collection_date"]) - pd.to_datetime(merged["placed_date"])).dt.days / 30.4
    assert merged["amount"][months <= 6].sum() / merged["amount"].sum() > Decimal("0.75")


# --------------------------------------------------------------------------------------------------
# Loan book (watch list)
# --------------------------------------------------------------------------------------------------


def test_loan_snapshots_and_keys(tables: dict[str, pd.DataFrame]) -> None:
    loans = tables["loans"]
    assert not loans.duplicated(["as_of_date", "loan_id"]).any()
    assert loans["loan_id"].str.fullmatch(r"LN-\d{5}").all()
    snapshots = sorted(set(loans["as_of_date"].map(day)))
    expected = [stamp.date() for stamp in pd.date_range(END - datetime.timedelta(days=400), END, freq="ME")][-13:]
    assert snapshots == expected
    per_snapshot = loans.groupby("as_of_date").size()
    assert per_snapshot.between(90, 250).all()
    # a loan's fixed terms do not change between snapshots
    fixed = loans.groupby("loan_id")[["borrower", "effective_rate", "segment"]].nunique()
    assert (fixed == 1).all().all()


def test_loan_columns_hold_contract_values(tables: dict[str, pd.DataFrame]) -> None:
    loans = tables["loans"]
    assert set(RISK_GRADES) - {"loss"} <= set(loans["risk_grade"]) <= set(RISK_GRADES)
    assert set(loans["status"]) == {"performing", "non_accrual", "reo", "closed"}
    assert set(loans["impairment_method"]) == {"", "cash_flows", "collateral"}
    assert set(loans["on_watch_list"]) == {"true", "false"}
    assert set(loans["segment"]) == {"CRE", "C&I", "Consumer"}
    assert loans["days_past_due"].str.fullmatch(r"\d+").all()
    assert loans["effective_rate"].map(Decimal).between(Decimal("0.04"), Decimal("0.12")).all()
    has_collateral = loans["collateral_value"] != ""
    assert (has_collateral == (loans["cost_to_sell_rate"] != "")).all()
    assert loans.loc[has_collateral, "cost_to_sell_rate"].map(Decimal).between(Decimal("0.05"), Decimal("0.10")).all()
    assert (loans.loc[has_collateral, "collateral_value"].map(money) >= 0).all()
    assert (loans.loc[loans["impairment_method"] == "collateral", "collateral_value"] != "").all()
    balance = loans["balance"].map(money)
    assert ((balance > 0) | (loans["status"] == "closed")).all()
    assert (balance[loans["status"] == "closed"] == 0).all()


def test_watch_list_grades_and_days_past_due_agree(tables: dict[str, pd.DataFrame]) -> None:
    loans = tables["loans"]
    grade = loans["risk_grade"]
    on_watch = loans["on_watch_list"] == "true"
    dpd = loans["days_past_due"].astype(int)
    live = loans["status"] != "closed"
    assert on_watch[live & (grade != "pass")].all()
    assert 0 < on_watch[grade == "pass"].sum() < 0.05 * (grade == "pass").sum()  # a few pass loans
    assert dpd[grade == "pass"].max() <= 31
    assert dpd[grade.isin(["doubtful", "loss"]) & (loans["status"] != "reo")].min() >= 85  # 3+ instalments
    assert (
        loans.loc[grade.isin(["doubtful", "loss"]) & live & (loans["status"] != "reo"), "status"] == "non_accrual"
    ).all()
    assert (loans.loc[grade.isin(["pass", "special_mention"]) & live, "status"] == "performing").all()
    since = loans["watch_list_since"]
    assert ((since != "") == on_watch).all()
    assert (since[on_watch].map(day) <= loans.loc[on_watch, "as_of_date"].map(day)).all()
    latest = loans[loans["as_of_date"] == loans["as_of_date"].max()]
    assert 10 <= (latest["on_watch_list"] == "true").sum() <= 0.3 * len(latest)


def test_loan_lifecycle(tables: dict[str, pd.DataFrame]) -> None:
    loans = tables["loans"].assign(as_of_date=lambda t: t["as_of_date"].map(day))
    snapshots = sorted(set(loans["as_of_date"]))
    by_loan = {loan_id: rows.sort_values("as_of_date") for loan_id, rows in loans.groupby("loan_id")}
    for loan_id, rows in by_loan.items():
        dates = list(rows["as_of_date"])
        assert dates == snapshots[snapshots.index(dates[0]) : snapshots.index(dates[0]) + len(dates)], loan_id
        status = list(rows["status"])
        if "closed" in status:  # a paid-off loan shows once as closed, then disappears
            assert status.index("closed") == len(status) - 1, loan_id
        if "reo" in status:  # a foreclosed loan stays REO at a constant carrying value until sold
            first = status.index("reo")
            assert set(status[first:]) == {"reo"}, loan_id
            assert rows["balance"].iloc[first:].nunique() == 1, loan_id
    assert (loans["status"] == "reo").any()
    assert (loans["status"] == "closed").any()
    first_snapshot = set(loans.loc[loans["as_of_date"] == snapshots[0], "loan_id"])
    last_snapshot = set(loans.loc[loans["as_of_date"] == snapshots[-1], "loan_id"])
    assert last_snapshot - first_snapshot, "no new loans"
    assert first_snapshot - last_snapshot, "no loans left the book"
    grades = loans.pivot(index="loan_id", columns="as_of_date", values="risk_grade")
    rank = grades.apply(lambda column: column.map({grade: i for i, grade in enumerate(RISK_GRADES)}))
    moves = rank.diff(axis=1).stack().dropna()
    assert (moves == 0).mean() > 0.9
    assert (moves > 0).sum() > (moves < 0).sum() > 0  # more downgrades than upgrades


def test_loans_need_html_escaping_in_some_borrower_names(tables: dict[str, pd.DataFrame]) -> None:
    borrowers = set(tables["loans"]["borrower"])
    assert "Harbor & Main Realty, L.P." in borrowers
    assert 'D\'Angelo "Dee" Builders <Corp>' in borrowers
    assert any("&" in name for name in borrowers) and any("<" in name for name in borrowers)


def test_cash_flows_belong_to_impaired_loans_of_the_same_snapshot(tables: dict[str, pd.DataFrame]) -> None:
    loans = tables["loans"]
    flows = tables["loan_cash_flows"]
    assert len(flows) > 0
    assert not flows.duplicated(["as_of_date", "loan_id", "flow_date"]).any()
    assert (flows["flow_date"].map(day) > flows["as_of_date"].map(day)).all()
    assert (flows["amount"].map(money) > 0).all()
    method = loans.set_index(["as_of_date", "loan_id"])["impairment_method"]
    keys = pd.MultiIndex.from_frame(flows[["as_of_date", "loan_id"]])
    assert keys.isin(method.index).all()
    assert (method.reindex(keys) == "cash_flows").all()
    with_flows = set(zip(flows["as_of_date"], flows["loan_id"], strict=True))
    assert set(method[method == "cash_flows"].index) == with_flows
    assert (loans["impairment_method"] == "collateral").any()


def test_cash_flows_are_worth_less_than_the_balance_as_a_rule(tables: dict[str, pd.DataFrame]) -> None:
    """PV at the effective rate (metrics.md § Watch-list reserves) is usually below the balance."""
    loans = tables["loans"].set_index(["as_of_date", "loan_id"])
    flows = tables["loan_cash_flows"]
    present_value: dict[tuple[str, str], float] = defaultdict(float)
    for row in flows.itertuples(index=False):
        rate = float(loans.loc[(row.as_of_date, row.loan_id), "effective_rate"])
        years = (day(row.flow_date) - day(row.as_of_date)).days / 365
        present_value[(row.as_of_date, row.loan_id)] += float(row.amount) / (1 + rate) ** years
    below = [value < float(loans.loc[key, "balance"]) for key, value in present_value.items()]
    assert sum(below) / len(below) >= 0.6  # a few loans expect to recover in full
    years_ahead = (flows["flow_date"].map(day) - flows["as_of_date"].map(day)).map(lambda delta: delta.days) / 365
    assert years_ahead.max() <= 5.1


def test_loan_book_at_the_default_size(default_size_ledger: Path) -> None:
    loans = pq.read_table(default_size_ledger / "loans.parquet").to_pandas()
    per_snapshot = loans.groupby("as_of_date").size()
    assert per_snapshot.between(250, 350).all()
    on_watch = loans[loans["on_watch_list"]].groupby("as_of_date").size()
    assert on_watch.between(24, 90).all()  # dozens
    assert str(pq.read_schema(default_size_ledger / "loans.parquet").field("on_watch_list").type) == "bool"
    # specific reserves arise on most cash-flow loans, not all (metrics.md § Watch-list reserves)
    flows = pq.read_table(default_size_ledger / "loan_cash_flows.parquet").to_pandas()
    flows = flows.merge(loans[["as_of_date", "loan_id", "balance", "effective_rate"]], on=["as_of_date", "loan_id"])
    years = (pd.to_datetime(flows["flow_date"]) - pd.to_datetime(flows["as_of_date"])).dt.days / 365
    flows["pv"] = flows["amount"].astype(float) / (1 + flows["effective_rate"].astype(float)) ** years
    per_loan = flows.groupby(["as_of_date", "loan_id"]).agg(pv=("pv", "sum"), balance=("balance", "first"))
    assert 0.75 <= (per_loan["pv"] < per_loan["balance"].astype(float)).mean() < 1.0


# --------------------------------------------------------------------------------------------------
# CSV and Parquet hold the same data
# --------------------------------------------------------------------------------------------------


def parquet_as_csv_text(path: Path) -> pd.DataFrame:
    """A Parquet table rendered the way the CSV prints it (Decimal keeps its scale; null → empty)."""
    table = pq.read_table(path)

    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime.date):
            return value.isoformat()
        return str(value)

    return pd.DataFrame({name: [text(v) for v in table.column(name).to_pylist()] for name in table.column_names})


def test_csv_and_parquet_hold_the_same_data(parquet_ledger: DemoSummary, tables: dict[str, pd.DataFrame]) -> None:
    for table in DEMO_TABLES:
        from_parquet = parquet_as_csv_text(parquet_ledger.out_dir / f"{table}.parquet")
        pd.testing.assert_frame_equal(from_parquet, tables[table], check_dtype=False, obj=table)


def test_parquet_types(parquet_ledger: DemoSummary) -> None:
    schema = pq.read_schema(parquet_ledger.out_dir / "invoices.parquet")
    assert str(schema.field("invoice_date").type) == "date32[day]"
    assert str(schema.field("amount").type) == "decimal128(18, 2)"
    assert str(schema.field("invoice_id").type) == "string"
    assert str(schema.field("disputed").type) == "bool"


# --------------------------------------------------------------------------------------------------
# Other reporting currency, other end date
# --------------------------------------------------------------------------------------------------


def test_eur_reporting_currency_is_consistent(tmp_path: Path) -> None:
    generate_demo(tmp_path, invoices=1_200, seed=5, fmt="csv", reporting_currency="EUR")
    tables = read_csv_tables(tmp_path)
    assert set(tables["fx_rates"]["currency"]) == {"USD", "GBP"}
    customer_currency = dict(zip(tables["customers"]["customer_id"], tables["customers"]["currency"], strict=True))
    invoices = tables["invoices"]
    empty = invoices[invoices["currency"] == ""]
    assert len(empty) > 0
    assert (empty["customer_id"].map(customer_currency) == "EUR").all()
    gl = tables["gl_balances"]
    actual = {(day(r.period_end), r.account): money(r.amount) for r in gl.itertuples(index=False)}
    assert actual == recompute_gl(tables, "EUR")


def test_end_in_mid_month(tmp_path: Path) -> None:
    end = datetime.date(2025, 6, 18)
    summary = generate_demo(tmp_path, invoices=800, seed=3, end=end, months=6, fmt="csv")
    tables = read_csv_tables(tmp_path)
    assert summary.latest_month_end == datetime.date(2025, 5, 31)
    assert summary.first_invoice_date >= datetime.date(2025, 1, 1)
    snapshots = sorted(set(tables["loans"]["as_of_date"].map(day)))
    assert len(snapshots) == 13
    assert snapshots[0] == datetime.date(2024, 5, 31) and snapshots[-1] == datetime.date(2025, 5, 31)
    assert all(placed <= datetime.date(2025, 5, 31) for placed in tables["agency_placements"]["placed_date"].map(day))
    period_ends = sorted(set(tables["gl_balances"]["period_end"].map(day)))
    assert period_ends == [datetime.date(2025, m, d) for m, d in ((1, 31), (2, 28), (3, 31), (4, 30), (5, 31))]
    for table, columns in {"payments": ["payment_date"], "adjustments": ["adjustment_date"]}.items():
        for column in columns:
            assert tables[table][column].map(day).max() <= end
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", tables["fx_rates"]["rate_date"].max())
