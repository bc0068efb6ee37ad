"""Where the time of `collections-mi metrics` goes: per phase, per query, per library.

Runs what `collections-mi metrics --params P` runs (load params → open ledger → validate → compute every
section → kpis.json), in this process, with light instrumentation of the Ibis DuckDB backend:

* every query (``Backend.to_pyarrow`` / ``execute`` / ``to_pyarrow_batches`` / ``raw_sql``) is counted and
  timed, with its compile time (``Backend.compile``: Ibis → sqlglot → SQL text) separated from the rest
  (DuckDB planning + execution + Arrow transfer, called "engine" below), and the process's CPU seconds meanwhile
  (column "cores": how many cores the engine kept busy on average — on 2 cores, what is left is what overlapping
  Python with the queries could use);
* each query is attributed to the innermost ``collections_mi`` function that issued it, and to the phase
  (``validate`` or the section being computed);
* "python" = phase wall time − compile − engine: pandas, Great Expectations, Decimal/FX post-processing.

With ``--cprofile FILE`` the same run is made under cProfile (which slows Python code down, so the
phase split of that run is inflated): the top functions and a tottime roll-up by library are printed and
the raw stats saved to FILE (open with ``python -m pstats FILE`` or snakeviz).

Nothing in src/ is modified: the wrappers are installed on the classes in this process only.

Usage: python benchmarks/profile_metrics.py --params P [--skip-validation] [--hold] [--cprofile OUT.prof]
       [--json OUT.json] [--slowest N]  (the N slowest queries with their SQL)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import json
import os
import pstats
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

_T0 = time.perf_counter()


class QueryLog:
    def __init__(self) -> None:
        self.phase = "startup"
        self.queries: list[dict[str, object]] = []
        self.compile_seconds = 0.0
        #: the process's CPU seconds while compiling (taken off a query's CPU seconds to leave the engine's)
        self.compile_cpu_seconds = 0.0
        #: also keep each query's SQL (``--slowest``), compiled again outside the timings
        self.keep_sql = False
        #: seconds spent holding tables at rest (--hold): the phase compute:hold, after each section's own phase
        self.held_seconds = 0.0
        self._depth = 0  # nested backend calls (execute → to_pyarrow …) are counted once

    def caller(self) -> str:
        for frame in reversed(traceback.extract_stack(limit=40)[:-3]):
            path = frame.filename.replace(os.sep, "/")
            if "/collections_mi/" in path and not path.endswith("/sources.py"):
                module = path.split("/collections_mi/", 1)[1].removesuffix(".py").replace("/", ".")
                return f"{module}.{frame.name}"
        return "?"


LOG = QueryLog()


def _sql_of(backend, args) -> str:
    """The SQL of a query's first argument (an Ibis expression, SQL text or a table name), uncounted."""
    if not args:
        return ""
    first = args[0]
    if isinstance(first, str):
        return first
    LOG._depth += 1
    counted = LOG.compile_seconds, LOG.compile_cpu_seconds
    try:
        return str(backend.compile(first)) if hasattr(first, "op") else repr(first)[:200]
    except Exception as error:  # a profile annotation, never a failure
        return f"(not compiled: {error})"
    finally:
        LOG._depth -= 1
        LOG.compile_seconds, LOG.compile_cpu_seconds = counted


def _instrument() -> None:
    from ibis.backends.duckdb import Backend

    def timed_query(name: str, original):
        def wrapper(self, *args, **kwargs):
            if LOG._depth:
                return original(self, *args, **kwargs)
            LOG._depth += 1
            compile_before, compile_cpu_before = LOG.compile_seconds, LOG.compile_cpu_seconds
            begin, cpu_begin = time.perf_counter(), time.process_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                LOG._depth -= 1
                total, cpu = time.perf_counter() - begin, time.process_time() - cpu_begin
                compiled = LOG.compile_seconds - compile_before
                compiled_cpu = LOG.compile_cpu_seconds - compile_cpu_before
                entry = {
                    "phase": LOG.phase,
                    "method": name,
                    "caller": LOG.caller(),
                    "seconds": total,
                    "compile": compiled,
                    "engine": total - compiled,
                    # CPU seconds of the whole process (DuckDB's threads too) while the engine ran, compiling's own
                    # CPU seconds taken off
                    "engine_cpu": cpu - compiled_cpu,
                }
                if LOG.keep_sql:
                    entry["sql"] = _sql_of(self, args if name != "create_table" else (kwargs.get("obj", *args[1:2]),))
                LOG.queries.append(entry)

        return wrapper

    def timed_compile(original):
        def wrapper(self, *args, **kwargs):
            begin, cpu_begin = time.perf_counter(), time.process_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                LOG.compile_seconds += time.perf_counter() - begin
                LOG.compile_cpu_seconds += time.process_time() - cpu_begin

        return wrapper

    for name in ("to_pyarrow", "execute", "to_pyarrow_batches", "raw_sql", "create_table", "read_parquet", "read_csv"):
        if hasattr(Backend, name):
            setattr(Backend, name, timed_query(name, getattr(Backend, name)))
    Backend.compile = timed_compile(Backend.compile)


#: with --hold: each table put at rest (name → rows, seconds), as the pack's compute stage holds them
HELD: dict[str, tuple[int, float]] = {}


def _holding(params):
    """A set_aside that holds each section's tables at rest as the pack does (``TablesAtRest.put``, then the memory
    given back), timing each table's conversion (``held_table``, wrapped in this process only) — the pack's compute
    stage beyond `metrics`; the time is its own phase, ``compute:hold``."""
    from collections_mi.core.memory import give_back_freed_memory
    from collections_mi.store import history

    at_rest = history.TablesAtRest(params.period, params.as_of)
    convert = history.held_table

    converted: list[tuple[int, float]] = []  # (rows, seconds) of each held_table call, in order

    def timed_held_table(frame):
        begin = time.perf_counter()
        held = convert(frame)
        converted.append((len(frame), time.perf_counter() - begin))
        return held

    history.held_table = timed_held_table  # what TablesAtRest.put calls

    def hold(results) -> None:
        started = time.perf_counter()
        for section, result in results.items():
            files = list(result.tables.published())  # put converts them in this order
            converted.clear()
            at_rest.put({section: result})
            HELD.update(zip(files, converted, strict=True))
        begin = time.perf_counter()
        give_back_freed_memory()
        HELD[f"(memory given back after {', '.join(results)})"] = (0, time.perf_counter() - begin)
        LOG.held_seconds += time.perf_counter() - started

    return hold


def run(params_path: Path, validate: bool, hold: bool = False) -> dict[str, object]:
    """The steps of pack.runner.compute_kpis, each timed; with ``hold``, each section's tables held at rest as
    the pack's compute stage holds them (instead of let go as `collections-mi metrics` does)."""
    phases: dict[str, float] = {}
    begin = time.perf_counter()
    from collections_mi.config.params import load_params
    from collections_mi.core.memory import fewer_collections
    from collections_mi.metrics import sections as sections_module
    from collections_mi.metrics.book import open_book
    from collections_mi.runs.backfill import let_tables_go
    from collections_mi.sources.ledger import open_ledger
    from collections_mi.store.results import kpis_json
    from collections_mi.validation.gate import validate_ledger

    phases["import"] = time.perf_counter() - begin + (begin - _T0)

    def phase(name: str, work):
        LOG.phase = name
        start = time.perf_counter()
        value = work()
        phases[name] = time.perf_counter() - start
        LOG.phase = "other"
        print(f"{time.strftime('%H:%M:%S')} {name} done in {phases[name]:.1f} s", file=sys.stderr, flush=True)
        return value

    params = phase("load_params", lambda: load_params(params_path))
    ledger = phase("open", lambda: open_ledger(params, params_path))
    if validate:
        phase("validate", lambda: validate_ledger(ledger, params))

    def timed_section(section):
        def compute(book, params):
            return phase(f"compute:{section.name}", lambda: section.compute(book, params))

        return dataclasses.replace(section, compute=compute)

    chosen = [timed_section(s) for s in sections_module.available_sections(ledger.typed)]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.enter_context(fewer_collections())  # as compute_month_end computes
        # the Book: shape, FX rates and the derived tables (spans, daily reductions, settlements) materialised once
        book = phase("compute:open_book", lambda: stack.enter_context(open_book(ledger, params)))
        # each section's tables let go as soon as it is computed, as `collections-mi metrics` does (it prints the
        # KPIs only): kept, they would count against this run's memory (at 100M invoices ~9 GB by the cash section)
        set_aside = _holding(params) if hold else let_tables_go
        results = sections_module.compute_sections(book, params, chosen, set_aside=set_aside)
        if hold and "aging" in results:  # the pack's compute stage also takes the history's open items
            from collections_mi.metrics.open_items import open_items_snapshot
            from collections_mi.runs.backfill import behaviour_customers_of
            from collections_mi.store.history import open_items_table

            items = phase(
                "compute:open_items", lambda: open_items_snapshot(book, params.aging, behaviour_customers_of(results))
            )
    if hold:
        phases["compute:hold"] = LOG.held_seconds
    if hold and "aging" in results:
        phase("compute:open_items_table", lambda: open_items_table(items, params.period, params.as_of))
    compute_total = time.perf_counter() - started
    kpis = phase("kpis_json", lambda: kpis_json(sections_module.flat_kpis(results)))
    return {"phases": phases, "compute_total": compute_total, "kpis_bytes": len(kpis)}


def summarise(outcome: dict[str, object]) -> dict[str, object]:
    phases: dict[str, float] = outcome["phases"]  # type: ignore[assignment]
    per_phase = {}

    # the queries outside every timed phase (the open items shared by the sections, made as they start and dropped
    # as they end; the Book's tables dropped): a row "other" of their own, so that the phases add up to the totals
    def phase_of(query: dict[str, object]) -> object:
        return query["phase"] if query["phase"] in phases else "other"

    walls = dict(phases)
    if between := [q for q in LOG.queries if phase_of(q) == "other"]:
        walls["other"] = sum(q["seconds"] for q in between)
    for name, wall in walls.items():
        queries = [q for q in LOG.queries if phase_of(q) == name]
        compile_s = sum(q["compile"] for q in queries)
        engine_s = sum(q["engine"] for q in queries)
        per_phase[name] = {
            "wall": wall,
            "queries": len(queries),
            "compile": compile_s,
            "engine": engine_s,
            "engine_cpu": sum(q["engine_cpu"] for q in queries),
            "python": wall - compile_s - engine_s,
        }
    by_caller: dict[str, dict[str, float]] = defaultdict(lambda: {"queries": 0, "seconds": 0.0, "compile": 0.0})
    for q in LOG.queries:
        entry = by_caller[f"{q['phase']} · {q['caller']}"]
        entry["queries"] += 1
        entry["seconds"] += q["seconds"]
        entry["compile"] += q["compile"]
    return {
        "phases": per_phase,
        "compute_total": outcome["compute_total"],
        "queries_total": len(LOG.queries),
        "compile_total": sum(q["compile"] for q in LOG.queries),
        "engine_total": sum(q["engine"] for q in LOG.queries),
        "engine_cpu_total": sum(q["engine_cpu"] for q in LOG.queries),
        "by_caller": dict(sorted(by_caller.items(), key=lambda kv: -kv[1]["seconds"])),
    }


def library_of(filename: str, function: str) -> str:
    path = filename.replace(os.sep, "/")
    if "/collections_mi/" in path:
        return "collections_mi." + path.split("/collections_mi/", 1)[1].removesuffix(".py").replace("/", ".")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename == "~":  # built-in functions and C methods
        for marker in ("duckdb", "pyarrow", "pandas", "decimal", "numpy"):
            if marker in function.lower():
                return f"{{built-in}} {marker}"
        return "{built-in} other"
    if "/lib/python" in path:
        return "stdlib." + path.rsplit("/", 1)[-1].removesuffix(".py")
    return path


def cprofile_report(stats_path: Path, top: int = 30) -> dict[str, object]:
    stats = pstats.Stats(str(stats_path))
    rows = []
    by_library: dict[str, float] = defaultdict(float)
    for (filename, line, function), (_primitive_calls, nc, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, cumtime, nc, f"{library_of(filename, function)}:{line}({function})"))
        by_library[library_of(filename, function)] += tottime
    by_tottime = sorted(rows, reverse=True)[:top]
    by_cumtime = sorted(rows, key=lambda r: -r[1])[:top]
    return {
        "total_tottime": sum(r[0] for r in rows),
        "top_tottime": [{"tottime": r[0], "cumtime": r[1], "calls": r[2], "function": r[3]} for r in by_tottime],
        "top_cumtime": [{"tottime": r[0], "cumtime": r[1], "calls": r[2], "function": r[3]} for r in by_cumtime],
        "by_library": dict(sorted(by_library.items(), key=lambda kv: -kv[1])[:25]),
    }


def engine_cores(cpu_seconds: float, wall_seconds: float) -> str:
    """How many cores the engine kept busy on average while it ran (its CPU seconds over its wall seconds): on a
    2-core machine, what is left of the second core is what overlapping Python with the queries could use."""
    return f"{cpu_seconds / wall_seconds:.2f}" if wall_seconds > 0 else ""


def print_report(summary: dict[str, object], profile: dict[str, object] | None) -> None:
    print(f"{'phase':28} {'wall s':>8} {'queries':>8} {'compile s':>10} {'engine s':>9} {'cores':>6} {'python s':>9}")
    for name, p in summary["phases"].items():  # type: ignore[union-attr]
        print(
            f"{name:28} {p['wall']:8.2f} {p['queries']:8d} {p['compile']:10.2f} {p['engine']:9.2f} "
            f"{engine_cores(p['engine_cpu'], p['engine']):>6} {p['python']:9.2f}"
        )
    print(
        f"queries: {summary['queries_total']}, compile {summary['compile_total']:.2f} s, "
        f"engine {summary['engine_total']:.2f} s "
        f"({engine_cores(summary['engine_cpu_total'], summary['engine_total'])} cores busy on average), "
        f"compute total {summary['compute_total']:.2f} s"
    )
    print("\ntop query sites (phase · caller: queries, seconds, of which compile)")
    for key, entry in list(summary["by_caller"].items())[:25]:  # type: ignore[union-attr]
        print(f"  {key:70} {entry['queries']:4d} {entry['seconds']:8.2f} {entry['compile']:7.2f}")
    if HELD:
        print(f"\ntables held at rest (--hold): {LOG.held_seconds:.2f} s in all; the slowest (rows, seconds)")
        for name, (rows, seconds) in sorted(HELD.items(), key=lambda kv: -kv[1][1])[:25]:
            print(f"  {name:60} {rows:>10,} {seconds:8.2f}")
    if profile:
        print(f"\ncProfile: top functions by own time (total {profile['total_tottime']:.1f} s)")
        for row in profile["top_tottime"]:  # type: ignore[union-attr]
            print(f"  {row['tottime']:8.2f} {row['cumtime']:8.2f} {row['calls']:>10} {row['function']}")
        print("\ncProfile: own time by library")
        for library, seconds in profile["by_library"].items():  # type: ignore[union-attr]
            print(f"  {seconds:8.2f} {library}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Profile `collections-mi metrics` (phases, queries, libraries).")
    parser.add_argument("--params", required=True, type=Path)
    parser.add_argument("--skip-validation", action="store_true")
    parser.add_argument(
        "--hold", action="store_true", help="hold each section's tables at rest as the pack does (and time it)"
    )
    parser.add_argument("--cprofile", type=Path, help="also run under cProfile and save the stats here")
    parser.add_argument("--json", type=Path, help="write the summary as JSON here")
    parser.add_argument(
        "--slowest", type=int, default=0, metavar="N", help="print the N slowest queries with their SQL (and keep it)"
    )
    args = parser.parse_args(argv)
    _instrument()
    LOG.keep_sql = args.slowest > 0
    profile = None
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        outcome = run(args.params, validate=not args.skip_validation, hold=args.hold)
        profiler.disable()
        profiler.dump_stats(str(args.cprofile))
        profile = cprofile_report(args.cprofile)
    else:
        outcome = run(args.params, validate=not args.skip_validation, hold=args.hold)
    summary = summarise(outcome)
    summary["cprofile"] = profile
    summary["instrumented_under_cprofile"] = bool(args.cprofile)
    print_report(summary, profile)
    if args.slowest:
        print(f"\nthe {args.slowest} slowest queries (seconds, phase · caller, SQL)")
        for query in sorted(LOG.queries, key=lambda q: -float(q["seconds"]))[: args.slowest]:
            sql = " ".join(str(query.get("sql", "")).split())
            print(f"{query['seconds']:7.2f}  {query['phase']} · {query['caller']}\n         {sql[:600]}")
    if args.json:
        summary["queries"] = LOG.queries if args.slowest else None
        summary["held"] = {name: {"rows": rows, "seconds": seconds} for name, (rows, seconds) in HELD.items()}
        args.json.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
