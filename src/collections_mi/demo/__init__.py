"""Deterministic, realistic demo receivables ledger.

``generate_demo`` writes the fourteen contract tables of a synthetic book into a folder, as CSV or
Parquet, following ``data-contract.md``: the accounts receivable (``customers``, ``invoices``,
``payments``, ``adjustments``, ``promises``, ``disputes``, ``unapplied_cash``, ``fx_rates``,
``gl_balances``), the collection agencies
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
    * Disputes (contract v1.1) on the invoices the simulation disputes (~3 %): opened 2-42 days after the
      invoice, with a reason, an owner and a resolution time that depends on the reason (not_received fast,
      quality slow), ended by what happened to the invoice (its credit note, its write-off, or the customer
      paying 0-21 days later) or still open at ``end``; some credited invoices see a second dispute after the
      credit note, and ~1 % of the other paid invoices had a dispute long over (back-dated packs see them).
      ``invoices.disputed`` is true exactly for the invoices with a dispute open at ``end``.
    * Unapplied cash (contract v1.1): ~3 % of payments were first received on account 1-20 days earlier (one
      in ten unidentified), and cash still on account at ``end`` (received in its last 60 days, a fifth
      unidentified) adds up to 0.8-1.5 % of the open receivables.
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
      the receivables tables. Disputes and receipts on account come from their own streams too (per chunk,
      and one for the cash still on account), so they change no other table either, except
      ``invoices.disputed``, which they decide.
    * Files are written under temporary names and renamed into place only once every table is
      complete, so a half-written ledger never appears under the contract names.

Modules
    * ``schemas``: each table's Arrow schema — the contract's columns (``core.contract``), then the
      demo's extras (``EXTRA_COLUMNS``).
    * ``world``: random streams, day numbers, the invoice calendar, FX rates.
    * ``names``, ``customers``: who the customers (and borrowers) are and how they pay.
    * ``receivables``: a chunk of invoices with payments, adjustments and promises.
    * ``disputes``: a chunk's disputes, and so its ``invoices.disputed``.
    * ``unapplied_cash``: receipts on account applied later (per chunk) and still unapplied at ``end``.
    * ``general_ledger``: month-end ``ar_control`` / ``allowance`` balances.
    * ``agencies``: placements, collections and recalls.
    * ``loans``: the watch-list loan book and its expected cash flows.
    * ``columns``, ``sinks``: Arrow columns from integer arrays; CSV / Parquet files written all or nothing.
    * ``generate``: ``generate_demo``, which runs them in order.
"""

from collections_mi.demo.generate import DemoSummary, generate_demo
from collections_mi.demo.schemas import DEMO_TABLES

__all__ = ["DEMO_TABLES", "DemoSummary", "generate_demo"]
