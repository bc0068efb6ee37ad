"""Reading CSV exports into the engine: the header, the dialect (separator, quotes, encoding), and errors that say
which line is wrong and how to export the file again."""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from collections_mi.config.params import CsvDialect
from collections_mi.core.contract import TABLES
from collections_mi.sources.engine_memory import out_of_memory

#: the longest line (record) a CSV may have; a longer one is almost always an unclosed quote
MAX_CSV_LINE_BYTES = 2 * 1024 * 1024
#: characters of a CSV line or value quoted in an error message
_QUOTED_CHARS = 120
_SEPARATOR_NAMES = {",": "commas (,)", ";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}
_OTHER_SEPARATORS = {sep: name for sep, name in _SEPARATOR_NAMES.items() if sep != ","}
_CSV_FIX = (
    "export the table again as CSV UTF-8 (comma delimited) with a header row — in Excel: Save As › "
    "CSV UTF-8 (Comma delimited) (*.csv)"
)
DEFAULT_DIALECT = CsvDialect()


def _csv_fix(dialect: CsvDialect, shown: str, table: str) -> str:
    if dialect.is_default:
        return _CSV_FIX
    return (
        f"check that source.csv (or source.tables.{table}.csv) describes {shown} — its delimiter, quoting and "
        "encoding — or export it again"
    )


def _one_separator(delimiter: str) -> str:
    """``a comma``, ``a semicolon``…: what a value must be quoted for when it contains one."""
    return {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a vertical bar"}.get(delimiter, f"a {delimiter!r}")


def _quote_example(delimiter: str) -> str:
    return f'"Acme{delimiter} Inc"' if delimiter != "\t" else '"Acme<tab>Inc"'


class CsvProblem(Exception):
    """Why one CSV file cannot be read: ``problem`` and ``fix`` (both name the file)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def _shorten(text: str, limit: int = _QUOTED_CHARS) -> str:
    text = text.rstrip("\r\n").replace("\t", "\\t")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _csv_header(path: Path, table: str, dialect: CsvDialect = DEFAULT_DIALECT, shown: str | None = None) -> list[str]:
    """The column names of a CSV's header row, checked: not empty, UTF-8, separated by the dialect's delimiter,
    no repeated name. ``path`` is UTF-8 (a file in another encoding has been transcoded); ``shown`` is the name of
    the user's own file."""
    shown = shown or path.name
    with path.open("rb") as handle:
        first = handle.readline(MAX_CSV_LINE_BYTES + 1)
        rest = handle.read(4096)
    if not first.strip(b"\xef\xbb\xbf \t\r\n"):
        required = ", ".join(TABLES[table].required_columns)
        if rest.strip():
            raise CsvProblem(
                "line 1 is blank: the header row naming the columns must be the first line",
                f"remove the blank line(s) at the top of {shown}",
            )
        raise CsvProblem(
            f"the file is empty: {table} needs at least a header row naming its columns",
            f"export {shown} again with its header row ({required} at least)",
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _non_utf8(path, shown) or CsvProblem("line 1 is not UTF-8 text", _CSV_FIX) from None
    delimiter = dialect.delimiter
    header = next(csv.reader([text], delimiter=delimiter, quotechar='"', doublequote=True), [])
    if len(header) == 1:
        used = [(sep, name) for sep, name in _SEPARATOR_NAMES.items() if sep != delimiter and sep in header[0]]
        if used and delimiter == ",":
            raise CsvProblem(
                f"the file is not comma-separated: its header row is separated by {used[0][1]} "
                f"(line 1: {_shorten(text)})",
                f"export {shown} again with commas between values (CSV UTF-8, comma delimited), or replace the "
                "separator by commas; decimals take a point (1234.56), not a comma — or say how the file is "
                f'written in params: source.csv: {{delimiter: "{used[0][0]}", decimal: ","}} '
                "(README.md § Params)",
            )
        if used:
            name = _SEPARATOR_NAMES.get(delimiter, repr(delimiter))
            raise CsvProblem(
                f"the file is not separated by {name}, as the params say (source.csv.delimiter): its header row is "
                f"separated by {used[0][1]} (line 1: {_shorten(text)})",
                f'set source.tables.{table}.csv.delimiter (or source.csv.delimiter) to "{used[0][0]}", the '
                f"separator {shown} uses",
            )
    names = [name if name.strip() else f"column{i}" for i, name in enumerate(header)]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = name.strip().lower()
        if key in seen:
            raise CsvProblem(
                f"the header row names the column {name.strip()} twice (columns {seen[key]} and {position})",
                f"remove or rename one of the two {name.strip()} columns in {shown}",
            )
        seen[key] = position
    return names


def _non_utf8(path: Path, shown: str | None = None) -> CsvProblem | None:
    """Where the first byte that is not UTF-8 is: line and byte, and what the encoding probably is (None: the
    file is UTF-8)."""
    shown = shown or path.name
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        for raw in handle:
            try:
                decoder.decode(raw, final=False)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.start + 1].hex().upper()
                return CsvProblem(
                    f"the file is not UTF-8 text: line {line} holds the byte 0x{bad}, which is not valid UTF-8 "
                    "(the file was probably saved as Windows-1252 / Latin-1)",
                    f"export {shown} again as UTF-8 (in Excel: Save As › CSV UTF-8 (Comma delimited)), or "
                    "convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8, or say its encoding in params "
                    "(source.csv: {encoding: cp1252})",
                )
            line += 1
    return None


def _transcode(path: Path, encoding: str, target: Path) -> None:
    """``path`` (in ``encoding``) as a UTF-8 copy at ``target``, streamed line by line; line numbers stay the
    same. A byte the encoding does not define is an error naming its line."""
    line = 0
    try:
        with path.open(encoding=encoding, newline="") as source, target.open("w", encoding="utf-8", newline="") as copy:
            for line, text in enumerate(source, start=1):  # noqa: B007 - the line is reported on an error
                copy.write(text)
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex().upper() if isinstance(exc.object, bytes) else "?"
        raise CsvProblem(
            f"the file is not {encoding} text: near line {line + 1} it holds the byte 0x{bad}, which {encoding} "
            "does not define",
            f"set source.csv.encoding (or source.tables.<table>.csv.encoding) to the encoding {path.name} is "
            "written in (utf-8, cp1252, latin-1, utf-16…)",
        ) from None


_DUCKDB_LINE = re.compile(r"CSV Error on Line: (\d+)")
_DUCKDB_ORIGINAL = re.compile(r"Original Line: ?(.*)")
_DUCKDB_COLUMNS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _explain_csv_error(
    path: Path, message: str, dialect: CsvDialect = DEFAULT_DIALECT, shown: str | None = None, table: str = ""
) -> CsvProblem:
    """A DuckDB CSV error as a problem a finance user can fix (the raw message quotes whole lines)."""
    shown = shown or path.name
    encoding = _non_utf8(path, shown)  # DuckDB words this many ways (or not at all): look at the bytes
    if encoding is not None:
        return encoding
    line_match = _DUCKDB_LINE.search(message)
    line = f"line {line_match.group(1)}" if line_match else "a line"
    original = _DUCKDB_ORIGINAL.search(message)
    quoted = f" ({line}: {_shorten(original.group(1))})" if original and original.group(1).strip() else ""
    columns = _DUCKDB_COLUMNS.search(message)
    delimiter = dialect.delimiter
    if columns:
        expected, found = columns.groups()
        return CsvProblem(
            f"{line} has {found} values but the header row has {expected} columns{quoted}",
            f"in {shown}, enclose a value that contains {_one_separator(delimiter)} in double quotes "
            f"({_quote_example(delimiter)}) and give {line} exactly {expected} values",
        )
    if "unterminated quote" in message.lower():
        return CsvProblem(
            f"{line} opens a double quote that is never closed{quoted}",
            f'close the quote on {line} of {shown} ({_quote_example(delimiter)}), or remove the stray "; a quote '
            'inside a quoted value is written twice ("")',
        )
    if "maximum line size" in message.lower():
        return CsvProblem(
            f"{line} is longer than {MAX_CSV_LINE_BYTES // (1024 * 1024)} MB, the most a line may hold",
            f"check {line} of {shown} for a double quote that is never closed; a single value (a name, a note) "
            f"must stay below {MAX_CSV_LINE_BYTES // (1024 * 1024)} MB",
        )
    first = next((part.strip() for part in message.splitlines() if part.strip()), "unknown error")
    if dialect.is_default:
        return CsvProblem(
            f"cannot be read as a comma-separated UTF-8 CSV with a header row: {_shorten(first, 300)}", _CSV_FIX
        )
    return CsvProblem(
        f"cannot be read as the CSV the params describe (source.csv): {_shorten(first, 300)}",
        _csv_fix(dialect, shown, table),
    )


def _check_value_counts(path: Path, columns: int, delimiter: str = ",", shown: str | None = None) -> None:
    """Every record has as many values as the header has columns.

    DuckDB's strict mode rejects a row with extra values, except when the extra values are empty: ``C4,Acme,
    Inc,SMB,,`` (an unquoted comma) would be read shifted by one column without a word. One pass of the csv
    module finds it (about a second per million rows).
    """
    shown = shown or path.name
    previous = csv.field_size_limit()
    csv.field_size_limit(MAX_CSV_LINE_BYTES)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
            next(reader, None)
            for record in reader:
                if record and len(record) != columns:
                    line = f"line {reader.line_num}"
                    raise CsvProblem(
                        f"{line} has {len(record)} values but the header row has {columns} columns "
                        f"({line}: {_shorten(delimiter.join(record))})",
                        f"in {shown}, enclose a value that contains {_one_separator(delimiter)} in double quotes "
                        f"({_quote_example(delimiter)}) and give {line} exactly {columns} values",
                    )
    except csv.Error:
        return  # DuckDB read the file; a quoting subtlety the csv module disagrees on is not worth an error
    finally:
        csv.field_size_limit(previous)


def read_csv(
    backend: Any, name: str, path: Path, dialect: CsvDialect = DEFAULT_DIALECT, scratch: Path | None = None
) -> ir.Table:
    """One CSV file as a table of text columns in the engine. A file not in UTF-8 is first transcoded to a UTF-8
    copy in ``scratch`` (DuckDB reads only UTF-8), which is removed once the engine holds the rows."""
    readable = path
    if not dialect.utf8:
        if scratch is None:
            raise ValueError("a scratch folder is needed to transcode a CSV file")
        readable = scratch / f"{name}.csv"
        _transcode(path, dialect.encoding, readable)
    try:
        names = _csv_header(readable, name, dialect, shown=path.name)
        try:
            # all text, exactly the header's columns, strict CSV: validation sees values as written, a malformed
            # line is an error (never silently padded or skipped); `typed` casts the text afterwards
            view = backend.read_csv(
                str(readable),
                table_name=f"csv_{name}",
                columns=dict.fromkeys(names, "VARCHAR"),
                header=True,
                delim=dialect.delimiter,
                quote='"',
                escape='"',
                strict_mode=True,
                max_line_size=MAX_CSV_LINE_BYTES,
            )
            # parse the CSV once into the engine; every later query reads the in-engine copy
            table = backend.create_table(f"src_{name}", view)
        except Exception as exc:  # duckdb raises its own error types for unreadable CSV
            raise out_of_memory(exc, f"reading {path.name}") or _explain_csv_error(
                readable, str(exc), dialect, shown=path.name, table=name
            ) from None
        _check_value_counts(readable, len(names), dialect.delimiter, shown=path.name)
    finally:
        if readable != path:
            readable.unlink(missing_ok=True)
    return table
