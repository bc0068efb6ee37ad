"""Deterministic, realistic demo receivables ledger.

``generate_demo`` writes the twelve contract tables of a synthetic book into a folder, as CSV or
Parquet, following ``data-contract.md``: the accounts receivable (``customers``, ``invoices``,
``payments``, ``adjustments``, ``promises``, ``fx_rates``, ``gl_balances``), the collection agencies
(``agencies``, ``agency_placements``, ``agency_collections``) and a watch-list loan book (``loans``,
``loan_cash_flows``).

What the ledger looks like
    * ~2,000 customers (``max(2000, invoices // 30)``) in four segments and four regions, each with a
      billing currency (USD / EUR / GBP), payment terms, a collector and a payer profile: *prompt*
      (around the due date, some take a 2 % early-payment discount), *slow* (~20 days late),
      *very slow* (lognormal, heavy tail) and *stopping* (pays normally, then stops paying at some date;
      their items are written off 180–365 days past due and they are put on credit hold).
    * ``months`` months of invoices ending at ``end`` with seasonality (Q4 peak, summer dip), mild
      growth, few invoices on weekends, and one *stressed quarter* (payments slower, more defaults,
      more customers stopping) so that roll rates vary from month to month.
    * Partial payments, prepayments, credit notes (often on disputed items), discounts, write-offs,
      recoveries, promises to pay (about two thirds kept, the rest broken or pending), business-day
      FX rates and month-end ``ar_control`` / ``allowance`` GL balances that reconcile exactly.
    * Nothing is dated after ``end``; whatever was not settled by then is the open AR.
    * Four collection agencies (two champions, two challengers). Customers whose oldest open item is
      90-150 days past due are placed at a month-end for their open past-due balance (exactly, at the
      closing rate); agencies collect 10-35 % of what they are given, mostly in months 1-6, one
      challenger doing better than one champion; some placements are recalled after 4-9 months.
      Agency collections are gross amounts independent of the invoice payments.
    * A loan book of ~300 loans (scaling with the fourth root of the invoice count) in 13 month-end
      snapshots up to ``end``'s latest month-end: grade migration, days past due, non-accrual, REO,
      payoffs, charge-offs and new loans; individually reviewed loans are measured on collateral or on
      expected cash flows (``loan_cash_flows``) whose present value is mostly below the balance.

Guarantees
    * Same arguments → byte-identical files (seeded ``numpy`` generators; no time, hash or dict-order
      dependence).
    * Money is held in integer cents end to end and GL balances are converted with ``Decimal``.
    * Payments + credit notes + discounts + write-offs never exceed an invoice's amount.
    * Invoices are generated and written in chunks, so memory stays bounded even at 10 million
      invoices; only per-customer and per-month accumulators live across chunks (for agency
      placements, only the customers that are seriously late). The agency and loan tables are small
      and built once, after the last chunk, from their own random streams, so they change nothing in
      the receivables tables.
    * Files are written under temporary names and renamed into place only once every table is
      complete, so a half-written ledger never appears under the contract names.

Modules
    * ``schemas``: each table's Arrow schema — the contract's columns (``core.contract``), then the
      demo's extras (``EXTRA_COLUMNS``).
    * ``world``: random streams, day numbers, the invoice calendar, FX rates.
    * ``names``, ``customers``: who the customers (and borrowers) are and how they pay.
    * ``receivables``: a chunk of invoices with payments, adjustments and promises.
    * ``general_ledger``: month-end ``ar_control`` / ``allowance`` balances.
    * ``agencies``: placements, collections and recalls.
    * ``loans``: the watch-list loan book and its expected cash flows.
    * ``columns``, ``sinks``: Arrow columns from integer arrays; CSV / Parquet files written all or nothing.
    * ``generate``: ``generate_demo``, which runs them in order.
"""

from collections_mi.demo.generate import DemoSummary, generate_demo
from collections_mi.demo.schemas import DEMO_TABLES

__all__ = ["DEMO_TABLES", "DemoSummary", "generate_demo"]
