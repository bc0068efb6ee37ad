"""The `collections-mi` command line: pack, metrics, validate, send, backfill, demo, inspect.

Each ``_cmd_*`` function imports its command's modules when it runs (the only function-local imports here):
together they load pandas, Ibis, DuckDB and the metrics, about a second, which `collections-mi --help` or a
mistyped option should not wait for (measured: --help 0.07 s; 1.0 s with every command's modules imported at the
top).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from collections_mi import __version__
from collections_mi.core.errors import (
    MACHINE_ERRNOS,
    CollectionsMIError,
    ConfigError,
    OutputNotWritable,
    first_line,
    machine_fault_hint,
    machine_fault_reason,
)
from collections_mi.core.imports import skip_unused_slow_imports
from collections_mi.core.interrupts import stop_on
from collections_mi.core.printable import escaped
from collections_mi.sources.engine_memory import out_of_memory

if TYPE_CHECKING:
    from collections_mi.config.params import Params

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {escaped(message)}", file=sys.stderr, flush=True)


def _cmd_pack(args: argparse.Namespace) -> int:
    from collections_mi.metrics.sections import SECTIONS
    from collections_mi.runs.pack import run_pack

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    if only:
        unknown = [s for s in only if s not in SECTIONS]
        if unknown:
            raise CollectionsMIError(
                f"--only: unknown section(s) {', '.join(unknown)}", hint=f"choose from {', '.join(SECTIONS)}"
            )
    outcome = run_pack(args.params, args.out, only=only, progress=_progress)
    print(f"Published {outcome.folder}/ in {outcome.seconds:.1f} s")
    print(f"Open the pack: {os.path.abspath(outcome.index_html)}")  # through the period's link, not the version
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    from collections_mi.runs.pack import compute_kpis
    from collections_mi.store.results import kpis_json

    sys.stdout.write(kpis_json(compute_kpis(args.params, validate=not args.skip_validation, progress=_progress)))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from collections_mi.runs.pack import validate_source

    report = validate_source(args.params, progress=_progress)
    print(f"validation passed: {report.checks_run} checks in {report.seconds:.1f} s")
    return 0


def _cmd_send(args: argparse.Namespace) -> int:
    from collections_mi.config.params import EmailConfig, load_params
    from collections_mi.delivery.smtp import send_eml

    params = load_params(args.params) if args.params else None
    email = params.email if params is not None else EmailConfig()
    recipients = [a.strip() for a in args.to.split(",") if a.strip()] if args.to else email.recipients
    path = args.out / args.period / "email.eml"
    if args.audience is not None:
        path, audience_recipients = _audience_email(args, params)
        recipients = [a.strip() for a in args.to.split(",") if a.strip()] if args.to else audience_recipients
    send_eml(path, recipients, email.smtp, sender=email.sender if args.params else None)  # else the email's From
    print(f"Sent {path} to {', '.join(recipients)}")
    return 0


def _audience_email(args: argparse.Namespace, params: Params | None) -> tuple[Path, list[str]]:
    """`send --audience NAME`: the audience's email.eml in the published pack and its recipients (from params)."""
    from collections_mi.config.audiences import AUDIENCE_NAME, AUDIENCES_DIR

    name = args.audience
    folder = args.out / args.period / AUDIENCES_DIR
    published = sorted(p.name for p in folder.iterdir() if (p / "email.eml").is_file()) if folder.is_dir() else []
    if params is not None and name not in params.report.audiences:
        configured = ", ".join(params.report.audiences) or "none"
        raise ConfigError(
            f"--audience {escaped(name, one_line=True)}: {args.params} has no report.audiences."
            f"{escaped(name, one_line=True)} (audiences there: {configured})",
            hint="name an audience of report.audiences in params (README § Params)",
        )
    if not AUDIENCE_NAME.match(name) or name not in published:
        raise ConfigError(
            f"--audience {escaped(name, one_line=True)}: the pack {args.out / args.period} has no audience of that "
            f"name (audiences published there: {', '.join(published) or 'none'})",
            hint="add it to report.audiences in params and run `collections-mi pack` again, or name a published one",
        )
    recipients = list(params.report.audiences[name].recipients) if params is not None else []
    return folder / name / "email.eml", recipients


def _cmd_backfill(args: argparse.Namespace) -> int:
    from collections_mi.runs.backfill import backfill

    outcome = backfill(
        args.params,
        start=args.start,
        end=args.end,
        out_dir=args.out,
        validate=not args.skip_validation,
        jobs=args.jobs,
        missing_only=args.missing_only,
        progress=_progress,
    )
    skipped = f" ({len(outcome.skipped)} already stored, skipped)" if outcome.skipped else ""
    print(f"Backfilled {len(outcome.stored)} month(s) into {outcome.history_dir}/ in {outcome.seconds:.1f} s{skipped}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from collections_mi.demo import generate_demo

    summary = generate_demo(args.out, invoices=args.invoices, seed=args.seed, fmt=args.format, progress=_progress)
    counts = ", ".join(f"{t} {n:,}" for t, n in summary.row_counts.items())
    print(f"Demo ledger written to {summary.out_dir}: {counts}; latest month-end {summary.latest_month_end}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from collections_mi.sources.inspection import month_end, propose, render_summary, render_yaml
    from collections_mi.sources.inspection_io import read_folder

    as_of, note = None, "from --as-of"
    if args.as_of:
        try:
            as_of = dt.date.fromisoformat(args.as_of)
        except ValueError:
            raise ConfigError(f"--as-of {args.as_of!r} is not a date", hint="use YYYY-MM-DD, e.g. 2026-10-31") from None
    if args.out is not None:
        if args.out.exists():
            raise ConfigError(
                f"{args.out} already exists: inspect never overwrites a file",
                hint="review or rename that file, or pass another --out path",
            )
        named = re.match(r"^(\d{4})-(\d{2})\.ya?ml$", args.out.name)
        if named:
            period = dt.date(int(named.group(1)), int(named.group(2)), 1)
            if as_of is None:
                as_of, note = month_end(period), f"the period {args.out.stem} that --out names"
            elif (as_of.year, as_of.month) != (period.year, period.month):
                raise ConfigError(
                    f"--as-of {as_of} is not in {named.group(1)}-{named.group(2)}, the period "
                    f"{args.out.name} is named for",
                    hint="name the file params/<YYYY-MM of as_of>.yaml or change --as-of",
                )
    proposal = propose(str(args.folder), read_folder(args.folder), as_of=as_of, as_of_note=note)
    command = f"collections-mi inspect {args.folder}"
    text = render_yaml(proposal, command=command)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        try:
            with args.out.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            raise ConfigError(
                f"{args.out} already exists: inspect never overwrites a file",
                hint="review or rename that file, or pass another --out path",
            ) from None
    sys.stderr.write(escaped(render_summary(proposal)))
    if args.out is not None:
        review = f"settle its {len(proposal.todo)} TODO(s)" if proposal.todo else "review it"
        print(f"Wrote {args.out}: {review}, then collections-mi validate --params {args.out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collections-mi",
        description="Month-end management information for credit & collections: validated packs of aging, DSO, "
        "allowance, watch-list and agency performance from a receivables ledger.",
        epilog="Example: collections-mi pack --params params/2026-10.yaml   (see README.md)",
    )
    parser.add_argument("--version", action="version", version=f"collections-mi {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pack = commands.add_parser(
        "pack",
        help="validate, compute and publish the month-end pack",
        description="Validate the ledger, compute every section once, execute the notebooks "
        "and publish DIR/<YYYY-MM>/ atomically (index.html, html/, executed/, "
        "kpis.json, tables/, run.json).",
    )
    pack.add_argument("--params", required=True, type=Path, help="params file, e.g. params/2026-10.yaml")
    pack.add_argument("--out", default=Path("reports"), type=Path, help="output folder (default: reports)")
    pack.add_argument("--only", help="comma-separated sections to run (default: all whose tables are present)")
    pack.set_defaults(run=_cmd_pack)

    metrics = commands.add_parser(
        "metrics",
        help="print the kpis.json object (no notebooks)",
        description="Validate and compute every KPI; print the kpis.json object to stdout.",
    )
    metrics.add_argument("--params", required=True, type=Path, help="params file")
    metrics.add_argument(
        "--skip-validation",
        action="store_true",
        help="compute without the validation gate (faster; for exploration only)",
    )
    metrics.set_defaults(run=_cmd_metrics)

    validate = commands.add_parser(
        "validate",
        help="run the validation gate only",
        description="Run the Great Expectations suites and cross-table checks; exit 2 "
        "with a readable report when the data fails.",
    )
    validate.add_argument("--params", required=True, type=Path, help="params file")
    validate.set_defaults(run=_cmd_validate)

    send = commands.add_parser(
        "send",
        help="send a published pack's email.eml over SMTP",
        description="Send DIR/<period>/email.eml (with --audience NAME: DIR/<period>/audiences/NAME/email.eml). "
        "SMTP host/port/user/security from params (email.smtp) or COLLECTIONS_MI_SMTP_HOST/PORT/USER/SECURITY; "
        "the password "
        "only from COLLECTIONS_MI_SMTP_PASSWORD. Nothing is sent without this command.",
    )
    send.add_argument("--period", required=True, help="YYYY-MM of a published pack")
    send.add_argument(
        "--to",
        help="comma-separated recipients (default: email.recipients in params; with --audience, the audience's "
        "report.audiences.NAME.recipients)",
    )
    send.add_argument(
        "--audience",
        metavar="NAME",
        help="send the email of the audience NAME (DIR/<period>/audiences/NAME/email.eml) instead of the pack's",
    )
    send.add_argument("--params", type=Path, help="params file with the email section (optional)")
    send.add_argument("--out", default=Path("reports"), type=Path, help="reports folder (default: reports)")
    send.set_defaults(run=_cmd_send)

    backfill = commands.add_parser(
        "backfill",
        help="store past month-ends in the history (no notebooks)",
        description="Compute every section for each month-end from --from to --to, using the params file as the "
        "template (as_of set to each month-end), validating the ledger once and running no notebooks, "
        "and store each month in OUT/history/period=YYYY-MM/ (Parquet, exact decimals); a month "
        "already stored is replaced.",
        epilog="Example: collections-mi backfill --params params/2026-10.yaml --from 2025-01 --to 2026-10",
    )
    backfill.add_argument("--params", required=True, type=Path, help="params file used as the template")
    backfill.add_argument(
        "--from",
        dest="start",
        metavar="YYYY-MM",
        help="first month (default: report.trend_months months back from --to)",
    )
    backfill.add_argument("--to", dest="end", metavar="YYYY-MM", help="last month (default: the params' period)")
    backfill.add_argument(
        "--out",
        default=Path("reports"),
        type=Path,
        help="reports folder; the history is OUT/history (default: reports)",
    )
    backfill.add_argument("--missing-only", action="store_true", help="skip months already in the history")
    backfill.add_argument("--jobs", type=int, help="worker processes (default: one per core, at most 4)")
    backfill.add_argument(
        "--skip-validation",
        action="store_true",
        help="compute without the validation gate (faster; for exploration only)",
    )
    backfill.set_defaults(run=_cmd_backfill)

    demo = commands.add_parser(
        "demo",
        help="generate the deterministic demo ledger",
        description="Write a realistic, deterministic demo receivables ledger.",
    )
    demo.add_argument("--out", default=Path("data/demo"), type=Path, help="output folder (default: data/demo)")
    demo.add_argument("--invoices", type=int, default=60_000, help="number of invoices (default: 60000)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    demo.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default: csv)")
    demo.set_defaults(run=_cmd_demo)

    inspect = commands.add_parser(
        "inspect",
        help="propose params (source mapping) for a folder of ERP exports",
        description="Read the header and a few rows of each .csv/.parquet file in FOLDER, sniff the CSV dialect "
        "(delimiter, decimal comma or point, thousands separator, date format, encoding), decide which "
        "file is which contract table and propose source.tables (file, columns, values). What it "
        "cannot decide is marked # TODO. Prints the YAML to stdout (a summary to stderr), or writes "
        "--out, which must not exist yet.",
        epilog="Example: collections-mi inspect exports/2026-10 --out params/2026-10.yaml",
    )
    inspect.add_argument("folder", type=Path, metavar="FOLDER", help="folder holding the exported files")
    inspect.add_argument("--out", type=Path, help="write the params here (never overwritten), e.g. params/2026-10.yaml")
    inspect.add_argument(
        "--as-of",
        dest="as_of",
        metavar="YYYY-MM-DD",
        help="as_of of the params (default: the period of --out, else the month-end of the latest invoice date seen)",
    )
    inspect.set_defaults(run=_cmd_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    skip_unused_slow_imports()
    args = build_parser().parse_args(argv)
    for stop in (signal.SIGINT, signal.SIGTERM):  # both interrupt, and are remembered (core/interrupts.py)
        signal.signal(stop, stop_on)
    try:
        return args.run(args)
    except CollectionsMIError as exc:
        return _user_error(exc)
    except KeyboardInterrupt:
        print("interrupted: nothing was published", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in MACHINE_ERRNOS:
            return _internal_error(args, exc)
        # a fault of the machine (disk full, read-only file system, no permission…) outside a pack's own handling
        named = next((os.fsdecode(n) for n in (exc.filename, exc.filename2) if n is not None), None)
        folder = getattr(args, "out", None) or (os.path.dirname(os.path.abspath(named)) if named else ".")
        print(
            f"error: {escaped(named) + ': ' if named else ''}{machine_fault_reason(exc)}\n"
            f"  fix: {machine_fault_hint(exc, folder)}",
            file=sys.stderr,
        )
        return OutputNotWritable.exit_code
    except Exception as exc:
        engine = out_of_memory(exc)  # the machine's settings, not a fault in collections_mi
        if engine is not None:
            return _user_error(engine)
        return _internal_error(args, exc)


def _user_error(exc: CollectionsMIError) -> int:
    """The error's message and fix on one ``error:`` line (and its fix line), and its exit code."""
    print(f"error: {escaped(str(exc))}", file=sys.stderr)  # data in a message never drives the terminal
    return exc.exit_code


def _internal_error(args: argparse.Namespace, exc: Exception) -> int:
    """A bug, not the user's input: a short message here, the traceback in a file."""
    if os.environ.get("COLLECTIONS_MI_DEBUG"):
        raise exc
    saved = _save_internal_error(args, exc)
    print(
        f"internal error: {escaped(first_line(exc))}\n"
        f"  nothing was published; the details are saved in {saved}\n"
        "  fix: this is a fault in collections_mi, not in your data: please report it with that file "
        "(set COLLECTIONS_MI_DEBUG=1 to see the traceback here)",
        file=sys.stderr,
    )
    return 1


def _save_internal_error(args: argparse.Namespace, exc: BaseException) -> Path:
    """The traceback and the command, in ``<out>/_failed/`` for commands that publish, else the temp folder."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = getattr(args, "out", None)
    folders = ([Path(out) / "_failed"] if out is not None and args.command in ("pack", "backfill") else []) + [
        Path(tempfile.gettempdir()) / "collections_mi-errors"
    ]
    text = f"collections_mi {__version__} internal error at {stamp}\ncommand: {' '.join(sys.argv)}\n\n" + "".join(
        traceback.format_exception(exc)
    )
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"internal-error-{stamp}-{os.getpid()}.txt"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path("(could not be saved)")


if __name__ == "__main__":
    sys.exit(main())
