"""Property tests of the Azure trace loader: any RFC 4180 rendering of a trace (random quoting, line ends, BOM,
multi-line quoted extra fields, blank lines, empty or omitted trailing optional fields, column order) loads to the
arrays it was written from; a file broken in one place (a bad value, a missing header column, a short row) raises
one TraceFormatError naming exactly the physical line and the column of that place."""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from repro.data import TraceFormatError, TraceOrderWarning, load_azure_trace
from repro.data import azure

REQUIRED = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
BASE_US = 1_715_299_200_000_000  # 2024-05-10 00:00:00 UTC in microseconds
SPECIAL = (",", '"', "\n", "\r")

extra_value = st.lists(st.sampled_from(["a", "b", " ", ",", '"', "\n", "\r\n", "\u00e9", "x1"]),
                       max_size=4).map("".join)


def lines_in(value: str) -> int:
    return value.count("\n")  # values only ever contain "\n" or "\r\n" as line breaks


def fmt_ts(us: int, aware: bool) -> str:
    s = str(np.datetime64(BASE_US + us, "us")).replace("T", " ")
    return s + "+00:00" if aware else s


@st.composite
def trace_files(draw):
    """A trace (values) and the pieces of one random valid rendering of it."""
    n_extra = draw(st.integers(0, 2))
    extras = [draw(st.sampled_from(["extra", "note, with comma", 'say "hi"', "id"])) + str(k) for k in range(n_extra)]
    header = draw(st.permutations(list(REQUIRED) + extras))
    n_rows = draw(st.integers(1, 25))
    values = draw(st.lists(st.tuples(st.integers(0, 10**10), st.integers(1, 2**31 - 1), st.integers(1, 100_000)),
                           min_size=n_rows, max_size=n_rows))
    aware = draw(st.booleans())
    rows = []
    for us, p, o in values:
        by_name = {"TIMESTAMP": fmt_ts(us, aware), "ContextTokens": str(p), "GeneratedTokens": str(o)}
        for name in extras:
            by_name[name] = draw(extra_value)
        fields = [by_name[c] for c in header]
        # trailing optional columns may be left empty or omitted
        n_opt_tail = 0
        while n_opt_tail < len(header) and header[len(header) - 1 - n_opt_tail] not in REQUIRED:
            n_opt_tail += 1
        if n_opt_tail and draw(st.booleans()):
            k = draw(st.integers(1, n_opt_tail))
            fields = fields[:len(fields) - k] + ([""] * k if draw(st.booleans()) else [])
        rows.append(fields)
    return dict(header=header, rows=rows, values=values,
                eol=draw(st.sampled_from(["\n", "\r\n"])), bom=draw(st.booleans()),
                final_eol=draw(st.booleans()),
                blanks=draw(st.lists(st.integers(0, 2), min_size=n_rows, max_size=n_rows)),
                quote_seed=draw(st.lists(st.booleans(), min_size=200, max_size=200)),
                chunk_rows=draw(st.integers(1, 30)))


def render(spec):
    """The file text and, for every row, the physical line of each of its fields and the line where it ends."""
    eol, quote_seed = spec["eol"], iter(spec["quote_seed"] * 50)

    def field(v):
        if any(c in v for c in SPECIAL) or next(quote_seed):
            return '"' + v.replace('"', '""') + '"'
        return v

    out = ["\ufeff" if spec["bom"] else "", ",".join(field(h) for h in spec["header"]), eol]
    line, where = 2, []
    for r, (fields, blanks) in enumerate(zip(spec["rows"], spec["blanks"])):
        out.append(eol * blanks)
        line += blanks
        starts, at = [], line
        for v in fields:
            starts.append(at)
            at += lines_in(v)
        where.append((starts, at))
        out.append(",".join(field(v) for v in fields))
        if r < len(spec["rows"]) - 1 or spec["final_eol"]:
            out.append(eol)
        line = at + 1
    return "".join(out), where


def write(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("prop") / "trace.csv"
    p.write_bytes(text.encode("utf-8"))
    return p


@settings(max_examples=60, deadline=None)
@given(trace_files())
def test_valid_renderings_load_to_the_written_arrays(tmp_path_factory, spec):
    text, _ = render(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceOrderWarning)
        trace = load_azure_trace(write(tmp_path_factory, text), chunk_rows=spec["chunk_rows"])
    vals = spec["values"]
    order = sorted(range(len(vals)), key=lambda i: vals[i][0])  # stable, like the loader
    assert trace.prompt_tokens.tolist() == [vals[i][1] for i in order]
    assert trace.output_tokens.tolist() == [vals[i][2] for i in order]
    t0 = vals[order[0]][0]
    np.testing.assert_allclose(trace.arrival, [(vals[i][0] - t0) / 1e6 for i in order], rtol=0, atol=1e-6)


BAD_VALUES = {"TIMESTAMP": ["not-a-time", "", "2024-13-45 00:00:00"],
              "ContextTokens": ["x", "-3", "1.5", "", "12a", "99999999999"],
              "GeneratedTokens": ["x", "-3", "1.5", "", "1e99"]}


@settings(max_examples=60, deadline=None)
@given(trace_files(), st.data())
def test_a_bad_value_is_located_at_its_physical_line_and_column(tmp_path_factory, spec, data):
    r = data.draw(st.integers(0, len(spec["rows"]) - 1))
    column = data.draw(st.sampled_from(REQUIRED))
    j = spec["header"].index(column)
    spec["rows"][r][j] = data.draw(st.sampled_from(BAD_VALUES[column]))
    text, where = render(spec)
    with pytest.raises(TraceFormatError) as info:
        load_azure_trace(write(tmp_path_factory, text), chunk_rows=spec["chunk_rows"])
    assert (info.value.line, info.value.column) == (where[r][0][j], column), str(info.value)
    assert f"line {where[r][0][j]}, column {column}" in str(info.value)
    assert "expected" in str(info.value)


@settings(max_examples=30, deadline=None)
@given(trace_files(), st.sampled_from(REQUIRED))
def test_a_missing_header_column_is_named_on_line_1(tmp_path_factory, spec, column):
    spec["header"] = [h for h in spec["header"] if h != column]
    text, _ = render(spec)
    with pytest.raises(TraceFormatError, match="missing column") as info:
        load_azure_trace(write(tmp_path_factory, text))
    assert (info.value.line, info.value.column) == (1, column)


@settings(max_examples=60, deadline=None)
@given(trace_files(), st.data())
def test_a_short_row_is_located_at_its_last_line_and_first_missing_column(tmp_path_factory, spec, data):
    header = spec["header"]
    need = max(header.index(c) for c in REQUIRED) + 1
    r = data.draw(st.integers(0, len(spec["rows"]) - 1))
    k = data.draw(st.integers(1, need - 1)) if need > 1 else 0
    assume(k >= 1)
    fields = spec["rows"][r][:k]
    assume(any(fields))  # a row of empty fields only is a blank line
    spec["rows"][r] = fields
    text, where = render(spec)
    with pytest.raises(TraceFormatError, match="truncated") as info:
        load_azure_trace(write(tmp_path_factory, text), chunk_rows=spec["chunk_rows"])
    assert (info.value.line, info.value.column) == (where[r][1], header[k]), str(info.value)


def test_reads_in_chunks_of_chunk_rows_records(tmp_path, monkeypatch):
    sizes = []
    real = azure._check_chunk

    def spy(file, header, idx, rows, starts, *args):
        sizes.append(len(rows))
        return real(file, header, idx, rows, starts, *args)

    monkeypatch.setattr(azure, "_check_chunk", spy)
    text = "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(
        f"2023-11-16 18:00:{i:02d},5,5\n" for i in range(23))
    (tmp_path / "t.csv").write_text(text)
    assert len(load_azure_trace(tmp_path / "t.csv", chunk_rows=7)) == 23
    assert sizes == [7, 7, 7, 2]
