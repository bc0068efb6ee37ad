"""Metrics: pure, typed functions from the ledger's :class:`~collections_mi.metrics.book.Book` and config to tables
and KPIs.

A run opens the Book once (``with open_book(ledger, params) as book``): the contract tables as named fields and the
tables derived from them (open-item spans, daily reductions, settled invoices, FX rates, the ledger's shape).
Each ``compute_<section>(book, params)`` returns a :class:`~collections_mi.metrics.result.SectionResult`; the
registry in :mod:`~collections_mi.metrics.sections` says which sections a ledger can give.

Money is exact (Decimal) end to end; the engine sums exact decimals, FX conversion happens on the
aggregated sums in Decimal (closing-rate conversion is linear, so this equals converting each item).
"""
