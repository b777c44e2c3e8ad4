"""Loader for the Azure LLM inference trace format (AzurePublicDataset, 2023 and 2024 releases).

Format: a CSV with header ``TIMESTAMP,ContextTokens,GeneratedTokens`` (extra columns are ignored);
TIMESTAMP is an ISO-8601 date-time (2023: ``2023-11-16 18:17:03.9799600``, naive; 2024:
``2024-05-10 00:00:00.009930+00:00``; naive times are read as UTC), ContextTokens the prompt tokens
and GeneratedTokens the output tokens of one request. Used as the real-data proxy by briefs 01 §5,
02 §5 and 03 §5.

The file is parsed by the :mod:`csv` module (RFC 4180: quoted header names and fields, embedded commas,
quotes and line breaks in quoted fields, CRLF or LF line ends, an optional UTF-8 BOM, empty or omitted
trailing optional fields), streamed in chunks of ``chunk_rows`` records so that memory stays bounded
(a 5M-row file peaks well under 1 GB; the result is int64 timestamps and int32 token counts). A gzip
file (detected by its magic bytes) is read transparently if its name ends in ``.gz`` and rejected
otherwise; a file that is not UTF-8 is rejected at the first bad byte.

Malformed input raises ONE :class:`TraceFormatError` naming the file, the physical 1-based line
number (counting the header, blank lines and each line of a multi-line quoted field), the column of
the first problem and what was expected (checks are vectorised per chunk of records).
"""
from __future__ import annotations

import csv
import gc
import gzip
import io
import itertools
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from repro.core.trace import Trace

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
_INT32_MAX = np.iinfo(np.int32).max


class TraceFormatError(ValueError):
    """A trace file does not follow the expected format; names the file, the physical line (1-based, counting the
    header, blank lines and every line of a quoted multi-line field), the column and what was expected.

    ``row`` is that line number (``line`` is an alias)."""

    def __init__(self, file, row: int | None, column: str | None, what: str):
        self.file, self.row, self.column, self.what = str(file), row, column, what
        where = ", ".join(x for x in (f"line {row}" if row is not None else "",
                                      f"column {column}" if column else "") if x)
        super().__init__(f"{file}: {where + ': ' if where else ''}{what}")

    @property
    def line(self) -> int | None:
        return self.row


class TraceOrderWarning(UserWarning):
    """Timestamps were out of order and the rows were sorted."""


class TraceValueWarning(UserWarning):
    """Values were adjusted to fit the Trace layout (zero token counts raised to 1)."""


def load_azure_trace(file: str | Path, *, chunk_rows: int = 100_000, **trace_columns) -> Trace:
    """Read an Azure LLM inference trace into a :class:`Trace` (arrival in seconds since the first request).

    ``trace_columns`` are passed to :meth:`Trace.from_columns` for the columns the file does not have
    (e.g. ``workload=WORKLOAD_NONINTERACTIVE`` or ``model=1``, broadcast to every row).
    """
    return read_azure_trace(file, chunk_rows=chunk_rows, **trace_columns)[0]


def read_azure_trace(file: str | Path, *, chunk_rows: int = 100_000, **trace_columns) -> tuple[Trace, pd.Timestamp]:
    """Like :func:`load_azure_trace`, also returning the UTC timestamp of arrival 0."""
    file = Path(file)
    # millions of small row lists would trigger the cyclic GC over and over (they hold no cycles): pause it
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        ts_ns, prompt, output = _read_columns(file, chunk_rows)
    finally:
        if gc_was_enabled:
            gc.enable()
    order = np.argsort(ts_ns, kind="stable")
    moved = int(np.count_nonzero(order != np.arange(order.size)))
    if moved:
        warnings.warn(f"{file}: timestamps out of order; sorted stably, {moved} of {order.size} rows moved",
                      TraceOrderWarning, stacklevel=2)
        ts_ns, prompt, output = ts_ns[order], prompt[order], output[order]
    for name, col in (("ContextTokens", prompt), ("GeneratedTokens", output)):
        zeros = int(np.count_nonzero(col == 0))
        if zeros:
            warnings.warn(f"{file}: {zeros} rows have {name} = 0; set to 1 (a Trace request has >= 1 token)",
                          TraceValueWarning, stacklevel=2)
            col[col == 0] = 1
    start = ts_ns[0]
    trace = Trace.from_columns((ts_ns - start) / 1e9, prompt, output, **trace_columns)
    return trace, pd.Timestamp(int(start), unit="ns", tz="UTC")


def summarize_trace(trace: Trace) -> str:
    """One line: rows, time span, token statistics."""
    n = len(trace)
    span = float(trace.arrival[-1] - trace.arrival[0]) if n else 0.0

    def stats(x):
        return (f"median {np.median(x):.0f} mean {x.mean():.1f} p99 {np.percentile(x, 99):.0f} "
                f"min {x.min()} max {x.max()}")

    return (f"{n} rows, span {span:.1f} s ({n / span if span > 0 else float('nan'):.2f} req/s); "
            f"prompt tokens {stats(trace.prompt_tokens)}; output tokens {stats(trace.output_tokens)}")


# ----------------------------------------------------------------------------------------------- parsing

_GZIP_MAGIC = b"\x1f\x8b"


def _newlines(text: str) -> int:
    """Physical line breaks inside a field (\\n, \\r\\n or a lone \\r, as the line iterator splits them)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _is_gzip(file: Path) -> bool:
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such trace file")
    with open(file, "rb") as fh:
        magic = fh.read(2)
    if magic != _GZIP_MAGIC:
        return False
    if file.name.lower().endswith(".gz"):
        return True
    raise TraceFormatError(file, 1, None, "the file is gzip-compressed (magic bytes 1f 8b) but its name does not end "
                           "in .gz; expected a plain UTF-8 CSV (gunzip it, or name it *.gz to read it directly)")


def _open_binary(file: Path, gz: bool):
    return gzip.open(file, "rb") if gz else open(file, "rb")


def _read_columns(file: Path, chunk_rows: int):
    """Stream the file through :mod:`csv` (RFC 4180) in chunks of ``chunk_rows`` records; return compact arrays
    (timestamps in ns as int64, token counts as int32), in file order. A line whose fields are all empty is skipped
    only if it has fewer or more fields than the header (a bare blank line); ``,,`` under a 3-column header is a row
    with empty values and an error."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    gz = _is_gzip(file)
    if not gz and file.stat().st_size == 0:
        raise TraceFormatError(file, 1, None, f"empty file; expected the header {','.join(COLUMNS)}")
    header: list[str] | None = None
    rows: list[list[str]] = []
    starts: list[int] = []
    prev = 0
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    try:
        with (gzip.open(file, "rt", encoding="utf-8-sig", newline="") if gz
              else open(file, encoding="utf-8-sig", newline="")) as fh:
            reader = csv.reader(fh, strict=True)
            try:
                first = next(reader, None)
                if first is None:
                    raise TraceFormatError(file, 1, None, f"empty file; expected the header {','.join(COLUMNS)}")
                header = [c.strip() for c in first]
                for col in COLUMNS:
                    if col not in header:
                        raise TraceFormatError(file, 1, col, f"missing column; the header has {header}, "
                                                             f"expected the columns {list(COLUMNS)}")
                n = len(header)
                idx = {c: header.index(c) for c in COLUMNS}
                need = max(idx.values()) + 1  # rows may omit trailing optional columns, never a required one
                first_data_line = reader.line_num + 1
                prev = reader.line_num
                for row in reader:
                    if len(row) != n:
                        problem = _shape_problem(row, n, need, header)
                        if problem == "blank":
                            prev = reader.line_num
                            continue
                        if problem is not None:
                            rows.append(row + [""] * (n - len(row)))
                            starts.append(prev + 1)
                            _check_chunk(file, header, idx, rows, starts, problem)
                            raise AssertionError("unreachable: _check_chunk raises on a shape problem")
                    rows.append(row)
                    starts.append(prev + 1)
                    prev = reader.line_num
                    if len(rows) >= chunk_rows:
                        parts.append(_check_chunk(file, header, idx, rows, starts))
                        rows, starts = [], []
                if rows:
                    parts.append(_check_chunk(file, header, idx, rows, starts))
            except csv.Error as exc:
                if rows:  # a problem in an earlier row of this chunk comes first
                    _check_chunk(file, header, idx, rows, starts)
                _raise_csv_error(file, header, prev + 1, reader.line_num, str(exc), gz)
    except UnicodeDecodeError:
        _raise_decode_error(file, header, gz)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise TraceFormatError(file, None, None, f"corrupt gzip data ({exc}); expected a complete gzip file") from None
    if not parts:
        raise TraceFormatError(file, first_data_line, None, "no data rows after the header; expected at least one row")
    if len(parts) == 1:
        return parts[0]
    out = tuple(np.concatenate([p[k] for p in parts]) for k in range(3))
    return out


def _shape_problem(row: list[str], n: int, need: int, header: list[str]):
    """None (row usable), "blank", or (column position, column name, what) for a short or long row."""
    if not any(row):
        return "blank"
    if len(row) < need:
        k = len(row)
        return (k, header[k], f"expected {n} fields, got {k} (truncated line?)")
    if len(row) > n and any(row[n:]):
        got = max(i for i, f in enumerate(row) if f) + 1
        return (n, f"field {n + 1}", f"expected {n} fields, got {got}")
    return None


def _check_chunk(file, header, idx, rows, starts, shape_problem=None):
    """Vectorised checks of one chunk of records; raise on the first bad record (ties: leftmost column).

    ``shape_problem`` (column position, name, what) belongs to the last record of the chunk."""
    problems: list[tuple[int, int, str, str]] = []  # (record position, column position, column name, what)
    if shape_problem is not None:
        problems.append((len(rows) - 1, *shape_problem))

    i_ts = idx["TIMESTAMP"]
    raw_ts = [r[i_ts] for r in rows]
    ts = pd.to_datetime(pd.Series(raw_ts, dtype=object), format="ISO8601", errors="coerce", utc=True)
    bad_ts = ts.isna().to_numpy()
    if bad_ts.any():
        i = int(np.argmax(bad_ts))
        problems.append((i, i_ts, "TIMESTAMP",
                         f"cannot parse {raw_ts[i]!r}; expected an ISO-8601 timestamp (e.g. 2023-11-16 18:17:03.97)"))

    tokens = {}
    for name in ("ContextTokens", "GeneratedTokens"):
        j = idx[name]
        raw = [r[j] for r in rows]
        x = _plain_counts(raw)
        if x is None:
            x = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        nan = np.isnan(x)
        xf = np.where(nan, 0.0, x)
        checks = (
            (nan, "is not a number; expected an integer token count >= 0"),
            (xf < 0, "is negative; expected a token count >= 0"),
            (np.floor(xf) != xf, "is not an integer; expected an integer token count"),
            (xf > _INT32_MAX, f"exceeds {_INT32_MAX}; expected a token count <= {_INT32_MAX}"),
        )
        for bad, what in checks:
            if bad.any():
                i = int(np.argmax(bad))
                problems.append((i, j, name, f"{raw[i]!r} {what}"))
        tokens[name] = xf.astype(np.int32) if not problems else None

    if problems:
        i, j, column, what = min(problems, key=lambda p: (p[0], p[1]))  # stable: a shape problem wins a tie
        line = starts[i] + sum(_newlines(f) for f in rows[i][:j])
        raise TraceFormatError(file, int(line), column, what)
    ts_ns = ts.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return ts_ns, tokens["ContextTokens"], tokens["GeneratedTokens"]


def _plain_counts(raw: list[str]) -> np.ndarray | None:
    """Fast path: every field is a non-empty run of ASCII digits (the usual case) -> float64 array, else None."""
    joined = "".join(raw)
    if not (joined.isascii() and joined.isdigit()) or not all(raw):
        return None
    try:
        return np.array(raw, dtype=np.int64).astype(np.float64)
    except (ValueError, OverflowError):
        return None


def _raise_csv_error(file: Path, header, start: int, end: int, reason: str, gz: bool):
    """The csv module rejected a record (bad quoting, NUL byte, field too large): name its line and field."""
    column, line = None, end
    try:
        with (gzip.open(file, "rt", encoding="utf-8-sig", newline="") if gz
              else open(file, encoding="utf-8-sig", newline="")) as fh:
            text = "".join(itertools.islice(fh, start - 1, end))
        commas, quoted = [], False  # unquoted commas of the record, as a quote-toggling scan sees them
        for pos, ch in enumerate(text):
            if ch == '"':
                quoted = not quoted
            elif ch == "," and not quoted:
                commas.append(pos)
            elif ch in "\r\n" and not quoted:
                break
        k = len(commas)  # the first field whose prefix the csv module rejects; else the last one
        for i, pos in enumerate(commas):
            try:
                list(csv.reader(io.StringIO(text[:pos], newline=""), strict=True))
            except csv.Error:
                k = i
                break
        field_start = commas[k - 1] + 1 if k else 0
        line = min(start + _newlines(text[:field_start]), end)
        column = header[k] if header and k < len(header) else f"field {k + 1}"
    except (OSError, UnicodeDecodeError):
        pass
    if "unexpected end of data" in reason or "EOF" in reason:
        reason += " (a quoted field is not closed)"
    raise TraceFormatError(file, line, column, f"malformed CSV: {reason}; expected RFC 4180 fields "
                                               '(a quoted field ends with " followed by , or the line end)') from None


def _raise_decode_error(file: Path, header: list[str] | None, gz: bool = False):
    """Find the first byte that is not UTF-8 (block-wise) and raise a TraceFormatError there."""
    lines_before, carry = 0, b""
    with _open_binary(file, gz) as fh:
        head = fh.read(4)
        fh.seek(0)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise TraceFormatError(file, 1, header[0] if header else None,
                                   "the file starts with a UTF-16 byte-order mark; expected UTF-8 text (re-encode "
                                   "it, e.g. iconv -f UTF-16 -t UTF-8)")
        if header is None:  # the text layer reads ahead, so the error may come before the header was parsed
            try:
                first = fh.readline().decode("utf-8-sig")
                header = [c.strip() for c in next(csv.reader([first.rstrip("\r\n")]), [])]
            except (UnicodeDecodeError, csv.Error):
                header = None
            fh.seek(0)
        while True:
            block = fh.read(1 << 24)
            data = carry + block
            try:
                data.decode("utf-8")
                good, carry = data, b""
            except UnicodeDecodeError as exc:
                if block and exc.reason == "unexpected end of data":
                    good, carry = data[:exc.start], data[exc.start:]
                else:
                    pos = exc.start
                    row = lines_before + data.count(b"\n", 0, pos) + 1
                    line_start = data.rfind(b"\n", 0, pos) + 1
                    prefix = data[line_start:pos].decode("utf-8", "replace")
                    k = max(len(next(csv.reader([prefix]), [])) - 1, 0)
                    column = header[k] if header and k < len(header) else f"field {k + 1}"
                    raise TraceFormatError(file, row, column,
                                           f"byte 0x{data[pos]:02x} is not valid UTF-8 ({exc.reason}); expected UTF-8 "
                                           "text (wrong encoding? e.g. Latin-1 or Windows-1252)") from None
            lines_before += good.count(b"\n")
            if not block:
                break
    raise TraceFormatError(file, None, None, "cannot be decoded as UTF-8; expected UTF-8 text")
