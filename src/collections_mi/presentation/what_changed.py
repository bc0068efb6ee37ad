""" "What changed" since the previous month-end: sentences generated from computed drivers — the top movers
(tables/top_movers.csv), the DSO bridge (tables/dso_bridge.csv), the allowance rollforward
(tables/allowance_rollforward.csv) and, when the ledger has the tables, the disputes and unapplied-cash trends
(tables/disputes_trend.csv with disputes_by_reason.csv, tables/unapplied_cash_trend.csv) — for the index page and
the email. Every figure is a value of those tables,
rounded for display here and only here."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from collections_mi.metrics.published import AgingResult, AllowanceResult, DsoResult
from collections_mi.metrics.result import SectionResult, Unavailable
from collections_mi.presentation.format import decimal_places, html_table, money_short

#: how many steps of the DSO bridge and how many customers a sentence names (the largest)
STEPS_NAMED = 3
CUSTOMERS_NAMED = 3


def signed_money(value: Decimal, currency: str) -> str:
    """+USD 1,234.56 / −USD 1,234.56."""
    return f"{'+' if value >= 0 else '−'}{money_short(abs(value), currency)}"


def signed_days(value: Decimal) -> str:
    """+4.8 / −0.3 (days to one decimal)."""
    return f"{'+' if value >= 0 else '−'}{decimal_places(abs(value), 1)}"


def _days(value: Decimal | None) -> str:
    return "–" if value is None else decimal_places(value, 1)


def _dso_move(row: pd.Series) -> str:
    if row["dso"] is None or row["dso_before"] is None:
        return ""
    return f"DSO {_days(row['dso_before'])} → {_days(row['dso'])} days"


def mover_sentences(movers: pd.DataFrame, currency: str) -> list[str]:
    """The segment whose past due moved most, and the customers that moved most, with their DSO then and now."""
    sentences = []
    segments = movers[movers["level"] == "segment"]
    if len(segments):
        top = segments.iloc[0]
        dso = _dso_move(top)
        sentences.append(
            f"Past due {'rose' if top['past_due_change'] > 0 else 'fell'} most in the {top['name']} segment: "
            f"{signed_money(top['past_due_change'], currency)} to {money_short(top['past_due'], currency)}"
            + (f"; {dso}." if dso else ".")
        )
    customers = movers[movers["level"] == "customer"].head(CUSTOMERS_NAMED)
    if len(customers):
        named = [
            f"{row['name']} {signed_money(row['past_due_change'], currency)}"
            + (f" ({_dso_move(row)})" if _dso_move(row) else "")
            for _, row in customers.iterrows()
        ]
        sentences.append(f"Customers whose past due moved most: {'; '.join(named)}.")
    return sentences


def _step_name(step: str) -> str:
    return step.lstrip("+−± ").lower()


def bridge_sentence(bridge: pd.DataFrame) -> str | None:
    """ "DSO moved from 55.7 to 60.5 days since the previous month-end; the largest drivers: credit sales +36.2
    days, …" (the bridge's steps by size)."""
    if len(bridge) < 3:
        return None
    first, last = bridge.iloc[0], bridge.iloc[-1]
    steps = bridge.iloc[1:-1]
    largest = steps.loc[sorted(steps.index, key=lambda i: (-abs(steps.at[i, "days"]), i))[:STEPS_NAMED]]
    drivers = ", ".join(f"{_step_name(s)} {signed_days(d)} days" for s, d in zip(largest["step"], largest["days"]))
    return (
        f"DSO moved from {_days(first['days'])} to {_days(last['days'])} days since the previous month-end; "
        f"the largest drivers: {drivers}."
    )


def allowance_sentence(rollforward: pd.DataFrame, currency: str) -> str:
    """ "The allowance moved from USD … to USD …: write-offs −…, recoveries +…, bad-debt expense +…"."""
    opening, closing = rollforward.iloc[0], rollforward.iloc[-1]
    causes = ", ".join(
        f"{_step_name(line)} {signed_money(amount, currency)}"
        for line, amount in zip(rollforward["line"][1:-1], rollforward["amount"][1:-1])
    )
    return (
        f"The allowance moved from {money_short(opening['amount'], currency)} to "
        f"{money_short(closing['amount'], currency)}: {causes}."
    )


def _moved(before: Decimal, now: Decimal) -> str:
    return "rose" if now > before else ("fell" if now < before else "was unchanged")


def code_text(code: object) -> str:
    """A system's own code (a dispute reason, an outcome) for reading: ``not_received`` → ``not received``."""
    return str(code).replace("_", " ")


def disputes_sentence(trend: pd.DataFrame, by_reason: pd.DataFrame, currency: str) -> str | None:
    """ "Disputed amount rose from USD … to USD … (41 → 44 open disputes); the largest reason: pricing USD …"
    (the last two month-ends of the disputes trend; the reason with the largest amount at D)."""
    if len(trend) < 2:
        return None
    before, now = trend.iloc[-2], trend.iloc[-1]
    sentence = (
        f"Disputed amount {_moved(before['amount'], now['amount'])} from {money_short(before['amount'], currency)} to "
        f"{money_short(now['amount'], currency)} ({before['disputes_open']} → {now['disputes_open']} open disputes)"
    )
    largest = by_reason[by_reason["disputes"] > 0].head(1)
    if len(largest):
        reason = largest.iloc[0]
        sentence += f"; the largest reason: {code_text(reason['reason'])} {money_short(reason['amount'], currency)}"
    return sentence + "."


def unapplied_sentence(trend: pd.DataFrame, currency: str) -> str | None:
    """ "Unapplied cash rose from USD … to USD …, of which USD … unidentified (no customer)." (the last two
    month-ends of the unapplied-cash trend)."""
    if len(trend) < 2:
        return None
    before, now = trend.iloc[-2], trend.iloc[-1]
    return (
        f"Unapplied cash {_moved(before['total'], now['total'])} from {money_short(before['total'], currency)} to "
        f"{money_short(now['total'], currency)}, of which {money_short(now['unidentified'], currency)} unidentified "
        "(no customer)."
    )


def what_changed(results: Mapping[str, SectionResult[Any, Any]], currency: str) -> list[str]:
    """The sentences of "What changed", from the results present: DSO bridge, top movers, allowance, disputes and
    unapplied cash (when the ledger has those tables)."""
    sentences: list[str] = []
    if "dso" in results:
        dso: DsoResult = results["dso"]
        # a table may be Unavailable in results read back from a pack published before it existed
        bridge = bridge_sentence(dso.tables.bridge) if isinstance(dso.tables.bridge, pd.DataFrame) else None
        sentences += [bridge] if bridge else []
        if isinstance(dso.tables.top_movers, pd.DataFrame):
            sentences += mover_sentences(dso.tables.top_movers, currency)
    if "allowance" in results:
        allowance: AllowanceResult = results["allowance"]
        if not isinstance(allowance.tables.rollforward, Unavailable):
            sentences.append(allowance_sentence(allowance.tables.rollforward, currency))
    if "aging" in results:
        aging: AgingResult = results["aging"]
        tables = aging.tables
        if isinstance(tables.disputes_trend, pd.DataFrame) and isinstance(tables.disputes_by_reason, pd.DataFrame):
            disputes = disputes_sentence(tables.disputes_trend, tables.disputes_by_reason, currency)
            sentences += [disputes] if disputes else []
        if isinstance(tables.unapplied_cash_trend, pd.DataFrame):
            unapplied = unapplied_sentence(tables.unapplied_cash_trend, currency)
            sentences += [unapplied] if unapplied else []
    return sentences


MOVERS_LABELS = {
    "who": "Segment / customer",
    "past_due_before": "Past due, previous month-end",
    "past_due": "Past due",
    "past_due_change": "Change",
    "dso_move": "DSO (days)",
}


def movers_display(movers: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The top movers as a small table for reading: who, past due then and now, the change and DSO then → now."""
    return pd.DataFrame(
        {
            "who": [f"{level.capitalize()}: {name}" for level, name in zip(movers["level"], movers["name"])],
            "past_due_before": list(movers["past_due_before"]),
            "past_due": list(movers["past_due"]),
            "past_due_change": list(movers["past_due_change"]),
            "dso_move": [f"{_days(before)} → {_days(now)}" for before, now in zip(movers["dso_before"], movers["dso"])],
        }
    )


def movers_html(results: Mapping[str, SectionResult[Any, Any]], currency: str) -> str:
    """The top movers table for the index page (every text escaped); "" without the DSO section or movers."""
    if "dso" not in results:
        return ""
    dso: DsoResult = results["dso"]
    if not isinstance(dso.tables.top_movers, pd.DataFrame) or dso.tables.top_movers.empty:
        return ""
    table = html_table(
        movers_display(dso.tables.top_movers, currency),
        currency=currency,
        labels=MOVERS_LABELS,
        css_class="mi-table mi-movers",
    )
    return (
        f'<p class="mi-note">Segments and customers whose past due moved most since the previous month-end '
        f"(tables/top_movers.csv).</p>{table}"
    )
