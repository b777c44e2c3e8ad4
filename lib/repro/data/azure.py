"""Loader for the Azure LLM inference trace format (AzurePublicDataset, 2023 and 2024 releases).

Format: a CSV with header ``TIMESTAMP,ContextTokens,GeneratedTokens`` (extra columns are ignored);
TIMESTAMP is an ISO-8601 date-time (2023: ``2023-11-16 18:17:03.9799600``, naive; 2024:
``2024-05-10 00:00:00.009930+00:00``; naive times are read as UTC), ContextTokens the prompt tokens
and GeneratedTokens the output tokens of one request. Used as the real-data proxy by briefs 01 §5,
02 §5 and 03 §5.

Malformed input raises ONE :class:`TraceFormatError` naming the file, the 1-based line number in
the file and the column of the first problem (checks are vectorised per chunk of rows; the file is
read in chunks so the week-long 2024 files never need to be in memory as text at once).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from repro.core.trace import Trace

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
_INT32_MAX = np.iinfo(np.int32).max


class TraceFormatError(ValueError):
    """A trace file does not follow the expected format; names the file, row (1-based line) and column."""

    def __init__(self, file, row: int | None, column: str | None, what: str):
        self.file, self.row, self.column, self.what = str(file), row, column, what
        where = ", ".join(x for x in (f"row {row}" if row is not None else "",
                                      f"column {column}" if column else "") if x)
        super().__init__(f"{file}: {where + ': ' if where else ''}{what}")


class TraceOrderWarning(UserWarning):
    """Timestamps were out of order and the rows were sorted."""


class TraceValueWarning(UserWarning):
    """Values were adjusted to fit the Trace layout (zero token counts raised to 1)."""


def load_azure_trace(file: str | Path, *, chunk_rows: int = 2_000_000, **trace_columns) -> Trace:
    """Read an Azure LLM inference trace into a :class:`Trace` (arrival in seconds since the first request).

    ``trace_columns`` are passed to :meth:`Trace.from_columns` for the columns the file does not have
    (e.g. ``workload=WORKLOAD_NONINTERACTIVE`` or ``model=1``, broadcast to every row).
    """
    return read_azure_trace(file, chunk_rows=chunk_rows, **trace_columns)[0]


def read_azure_trace(file: str | Path, *, chunk_rows: int = 2_000_000, **trace_columns) -> tuple[Trace, pd.Timestamp]:
    """Like :func:`load_azure_trace`, also returning the UTC timestamp of arrival 0."""
    file = Path(file)
    header = _read_header(file)
    ts_ns, prompt, output = _read_rows(file, header, chunk_rows)
    if ts_ns.size == 0:
        raise TraceFormatError(file, 2, None, "no data rows after the header")
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
    trace = Trace.from_columns((ts_ns - start) / 1e9, prompt.astype(np.int32), output.astype(np.int32), **trace_columns)
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

def _read_header(file: Path) -> list[str]:
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such trace file")
    if file.stat().st_size == 0:
        raise TraceFormatError(file, 1, None, f"empty file; expected the header {','.join(COLUMNS)}")
    with open(file, "rb") as fh:
        first = fh.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        _raise_decode_error(file, None)
    names = [c.strip() for c in text.rstrip("\r\n").split(",")]
    for col in COLUMNS:
        if col not in names:
            raise TraceFormatError(file, 1, col, f"missing column; the header has {names}, expected {list(COLUMNS)}")
    return names


def _read_rows(file: Path, header: list[str], chunk_rows: int):
    n_fields = len(header)
    idx = {c: header.index(c) for c in COLUMNS}
    ts_parts, p_parts, o_parts = [], [], []
    first_line = 2
    try:
        reader = pd.read_csv(file, encoding="utf-8-sig", skiprows=1, header=None, names=range(n_fields + 4),
                             dtype=str, na_filter=False, skip_blank_lines=False, chunksize=chunk_rows, engine="c")
        for chunk in reader:
            lines = first_line + np.arange(len(chunk))
            first_line += len(chunk)
            values = chunk.to_numpy()
            blank = (values == "").all(axis=1)
            if blank.any():
                values, lines = values[~blank], lines[~blank]
            if values.shape[0] == 0:
                continue
            ts, prompt, output = _check_chunk(file, header, values, lines, idx)
            ts_parts.append(ts), p_parts.append(prompt), o_parts.append(output)
    except UnicodeDecodeError:
        _raise_decode_error(file, header)
    except pd.errors.ParserError as exc:
        raise TraceFormatError(file, None, None, f"cannot be parsed as CSV ({exc})") from None
    if not ts_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(ts_parts), np.concatenate(p_parts), np.concatenate(o_parts)


def _check_chunk(file, header, values, lines, idx):
    """Vectorised checks of one chunk; raise on the first bad row (ties: leftmost column)."""
    n_fields = len(header)
    problems: list[tuple[int, int, str, str]] = []  # (row position, column position, column name, what)

    nonempty = values != ""
    n_present = np.where(nonempty.any(axis=1), nonempty.shape[1] - np.argmax(nonempty[:, ::-1], axis=1), 0)
    extra = n_present > n_fields
    if extra.any():
        i = int(np.argmax(extra))
        problems.append((i, n_fields, f"field {n_fields + 1}",
                         f"expected {n_fields} fields, got {int(n_present[i])}"))
    short = n_present < n_fields
    if short.any():
        i = int(np.argmax(short))
        col = int(n_present[i])
        problems.append((i, col, header[col], f"expected {n_fields} fields, got {col} (truncated line?)"))

    raw_ts = values[:, idx["TIMESTAMP"]]
    ts = pd.to_datetime(pd.Series(raw_ts), format="ISO8601", errors="coerce", utc=True)
    bad_ts = ts.isna().to_numpy()
    if bad_ts.any():
        i = int(np.argmax(bad_ts))
        problems.append((i, idx["TIMESTAMP"], "TIMESTAMP", f"cannot parse {raw_ts[i]!r} as an ISO-8601 timestamp"))

    tokens = {}
    for name in ("ContextTokens", "GeneratedTokens"):
        raw = values[:, idx[name]]
        x = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=np.float64)
        nan = np.isnan(x)
        xf = np.where(nan, 0.0, x)
        checks = (
            (nan, "is not a number"),
            (xf < 0, "is negative; expected a token count >= 0"),
            (np.floor(xf) != xf, "is not an integer token count"),
            (xf > _INT32_MAX, f"exceeds {_INT32_MAX}"),
        )
        for bad, what in checks:
            if bad.any():
                i = int(np.argmax(bad))
                problems.append((i, idx[name], name, f"{raw[i]!r} {what}"))
        tokens[name] = xf.astype(np.int64)

    if problems:
        i, _, column, what = min(problems, key=lambda p: (p[0], p[1]))
        raise TraceFormatError(file, int(lines[i]), column, what)
    ts_ns = ts.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return ts_ns, tokens["ContextTokens"], tokens["GeneratedTokens"]


def _raise_decode_error(file: Path, header: list[str] | None):
    """Find the first byte that is not UTF-8 (block-wise) and raise a TraceFormatError there."""
    lines_before, carry = 0, b""
    with open(file, "rb") as fh:
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
                    k = data.count(b",", line_start, pos)
                    column = header[k] if header and k < len(header) else f"field {k + 1}"
                    raise TraceFormatError(file, row, column,
                                           f"byte 0x{data[pos]:02x} is not valid UTF-8 (wrong encoding?)") from None
            lines_before += good.count(b"\n")
            if not block:
                break
    raise TraceFormatError(file, None, None, "cannot be decoded as UTF-8")
