"""Azure LLM trace loader: real files, every malformed case (one error naming file, row, column), ordering."""
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from repro import data
from repro.data import TraceFormatError, TraceOrderWarning, TraceValueWarning, load_azure_trace, read_azure_trace

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
GOOD = ["2023-11-16 18:17:03.9799600,4808,10", "2023-11-16 18:17:04.0319600,3180,8",
        "2023-11-16 18:17:04.0781490,110,27", "2023-11-16 18:17:04.1206440,7433,14"]


def write(tmp_path, text, name="t.csv", mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_real_files_load(data_mirror):
    for name, rows, median in (("AzureLLMInferenceTrace_conv.csv", 19366, (1020, 129)),
                               ("AzureLLMInferenceTrace_code.csv", 8819, (1469, 13))):
        trace, start = read_azure_trace(data.path("azure-llm-2023", name))
        trace.validate()
        assert len(trace) == rows
        assert (np.median(trace.prompt_tokens), np.median(trace.output_tokens)) == median
        assert start.year == 2023 and start.month == 11 and start.day == 16
        assert 3400 < trace.arrival[-1] < 3600
        assert trace.arrival[0] == 0.0


def test_matches_a_plain_pandas_read(data_mirror):
    p = data.path("azure-llm-2023", "AzureLLMInferenceTrace_code.csv")
    ref = pd.read_csv(p)
    ts = pd.to_datetime(ref["TIMESTAMP"]).astype("int64").to_numpy()
    trace = load_azure_trace(p)
    np.testing.assert_array_equal(trace.prompt_tokens, ref["ContextTokens"].to_numpy())
    np.testing.assert_array_equal(trace.output_tokens, ref["GeneratedTokens"].to_numpy())
    np.testing.assert_allclose(trace.arrival, (ts - ts[0]) / 1e9, rtol=0, atol=1e-6)


def test_2024_timestamps_with_offsets_and_mixed_precision(tmp_path):
    p = write(tmp_path, HEADER + "2024-05-10 00:00:00.009930+00:00,2162,5\n2024-05-10 00:00:01+00:00,76,15\n"
                                 "2024-05-10 01:00:01.5+01:00,7,1\n")
    trace, start = read_azure_trace(p)
    assert str(start) == "2024-05-10 00:00:00.009930+00:00"
    np.testing.assert_allclose(trace.arrival, [0.0, 0.99007, 1.49007], atol=1e-9)


def test_extra_columns_any_order_blank_lines_bom_and_crlf(tmp_path):
    text = "\ufeffGeneratedTokens,extra,TIMESTAMP,ContextTokens\r\n5,x,2023-11-16 18:00:00,7\r\n\r\n6,y,2023-11-16 18:00:02,8\r\n"
    trace = load_azure_trace(write(tmp_path, text))
    assert trace.prompt_tokens.tolist() == [7, 8] and trace.output_tokens.tolist() == [5, 6]
    assert trace.arrival.tolist() == [0.0, 2.0]


BAD_CASES = {
    # name: (file content, expected row, expected column, message fragment)
    "empty file": ("", 1, None, "empty file"),
    "header only": (HEADER, 2, None, "no data rows"),
    "missing column": ("TIMESTAMP,ContextTokens\n2023-11-16 18:00:00,5\n", 1, "GeneratedTokens", "missing column"),
    "non-numeric tokens": (HEADER + GOOD[0] + "\n" + GOOD[1] + "\n2023-11-16 18:17:05,12a,3\n", 4, "ContextTokens",
                           "is not a number"),
    "negative tokens": (HEADER + GOOD[0] + "\n2023-11-16 18:17:05,12,-3\n", 3, "GeneratedTokens", "negative"),
    "fractional tokens": (HEADER + GOOD[0] + "\n2023-11-16 18:17:05,12.5,3\n", 3, "ContextTokens", "not an integer"),
    "empty token field": (HEADER + GOOD[0] + "\n2023-11-16 18:17:05,,3\n", 3, "ContextTokens", "is not a number"),
    "unparseable timestamp": (HEADER + GOOD[0] + "\n16/11/2023 nonsense,12,3\n", 3, "TIMESTAMP", "ISO-8601"),
    "truncated last line": (HEADER + "\n".join(GOOD) + "\n2023-11-16 18:17:05.1,71", 6, "GeneratedTokens",
                            "truncated"),
    "too many fields": (HEADER + GOOD[0] + ",9\n", 2, "field 4", "expected 3 fields, got 4"),
    "first problem wins": (HEADER + "2023-11-16 18:17:05,x,-1\nbad,-1,1\n", 2, "ContextTokens", "is not a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_malformed_input_gets_one_error_naming_file_row_column(tmp_path, case):
    text, row, column, fragment = BAD_CASES[case]
    p = write(tmp_path, text)
    with pytest.raises(TraceFormatError) as info:
        load_azure_trace(p)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.row, err.column) == (row, column)
    assert fragment in str(err)
    assert str(p) in str(err)
    if row is not None:
        assert f"line {row}" in str(err)


def test_wrong_encoding_names_row_and_column(tmp_path):
    body = (HEADER + GOOD[0] + "\n2023-11-16 18:17:05,12,3\n").encode() + "2023-11-16 18:17:06,1\u00e9,3\n".encode("latin-1")
    p = write(tmp_path, body, mode="wb")
    with pytest.raises(TraceFormatError, match="not valid UTF-8") as info:
        load_azure_trace(p)
    assert (info.value.row, info.value.column) == (4, "ContextTokens")
    utf16 = write(tmp_path, (HEADER + GOOD[0] + "\n").encode("utf-16"), name="u16.csv", mode="wb")
    with pytest.raises(TraceFormatError, match="UTF-8") as info:
        load_azure_trace(utf16)
    assert info.value.row == 1


def test_errors_are_located_across_chunks(tmp_path):
    lines = [f"2023-11-16 18:00:{i // 10:02d}.{i % 10},5,5" for i in range(100)]
    lines[73] = "2023-11-16 18:00:07.3,5,oops"
    p = write(tmp_path, HEADER + "\n".join(lines) + "\n")
    with pytest.raises(TraceFormatError) as info:
        load_azure_trace(p, chunk_rows=16)
    assert (info.value.row, info.value.column) == (75, "GeneratedTokens")


def test_out_of_order_rows_are_sorted_stably_with_a_warning(tmp_path):
    rows = ["2023-11-16 18:00:03,3,1", "2023-11-16 18:00:01,1,1", "2023-11-16 18:00:02,2,1",
            "2023-11-16 18:00:02,22,1", "2023-11-16 18:00:04,4,1"]
    p = write(tmp_path, HEADER + "\n".join(rows))
    with pytest.warns(TraceOrderWarning, match="4 of 5 rows moved"):
        trace = load_azure_trace(p)
    assert trace.prompt_tokens.tolist() == [1, 2, 22, 3, 4]
    assert trace.arrival.tolist() == [0.0, 1.0, 1.0, 2.0, 3.0]


def test_zero_tokens_are_raised_to_one_with_a_warning(tmp_path):
    p = write(tmp_path, HEADER + "2023-11-16 18:00:00,0,5\n2023-11-16 18:00:01,3,0\n")
    with pytest.warns(TraceValueWarning):
        trace = load_azure_trace(p)
    assert trace.prompt_tokens.tolist() == [1, 3] and trace.output_tokens.tolist() == [5, 1]


def test_sorted_file_gives_no_warning(tmp_path):
    p = write(tmp_path, HEADER + "\n".join(GOOD))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_azure_trace(p)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 2**31 - 1), st.integers(1, 100_000)),
                min_size=1, max_size=40),
       st.integers(1, 50))
def test_round_trip_of_valid_files(tmp_path_factory, rows, chunk_rows):
    """Property: any valid file (microsecond timestamps, any order) loads to its sorted content, whatever the chunking."""
    base = pd.Timestamp("2024-05-10", tz="UTC")
    ts = [base + pd.Timedelta(microseconds=r[0]) for r in rows]
    text = HEADER + "".join(f"{t.isoformat(sep=' ')},{p},{o}\n" for t, (_, p, o) in zip(ts, rows))
    path = tmp_path_factory.mktemp("rt") / "t.csv"
    path.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceOrderWarning)
        trace = load_azure_trace(path, chunk_rows=chunk_rows)
    order = sorted(range(len(rows)), key=lambda i: rows[i][0])
    assert trace.prompt_tokens.tolist() == [rows[i][1] for i in order]
    assert trace.output_tokens.tolist() == [rows[i][2] for i in order]
    t0 = rows[order[0]][0]
    np.testing.assert_allclose(trace.arrival, [(rows[i][0] - t0) / 1e6 for i in order], atol=1e-6)


# ------------------------------------------------------------------ RFC 4180, line numbers, encodings, compression

def test_rfc4180_quoted_header_and_fields_embedded_commas_quotes_and_line_breaks(tmp_path):
    text = ('"TIMESTAMP","ContextTokens","GeneratedTokens","note, free text"\r\n'
            '"2023-11-16 18:00:00","7","5","a, ""quoted"" word"\r\n'
            '2023-11-16 18:00:01,8,6,"two\r\nlines"\r\n'
            '2023-11-16 18:00:02,9,7,\r\n'          # empty trailing optional field
            '2023-11-16 18:00:03,10,8\r\n')         # omitted trailing optional field
    trace = load_azure_trace(_write_bytes(tmp_path, text))
    assert trace.prompt_tokens.tolist() == [7, 8, 9, 10] and trace.output_tokens.tolist() == [5, 6, 7, 8]
    assert trace.arrival.tolist() == [0.0, 1.0, 2.0, 3.0]


def _write_bytes(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return p


def test_physical_line_counts_blank_lines_and_multi_line_fields(tmp_path):
    text = (HEADER.replace("\n", ",note\n") + GOOD[0] + ',"one\ntwo\nthree"\n\n\n'
            + '2023-11-16 18:17:05,"multi\nline",3,x\n')
    with pytest.raises(TraceFormatError) as info:
        load_azure_trace(_write_bytes(tmp_path, text))
    # header 1, record 2-4, blanks 5-6, bad record starts on 7 and its ContextTokens field on 7
    assert (info.value.line, info.value.column) == (7, "ContextTokens")
    text = ("TIMESTAMP,note,ContextTokens,GeneratedTokens\n" + '2023-11-16 18:17:04,"one\ntwo",1,2\n'
            + '2023-11-16 18:17:05,"a\r\nb",1,oops\n')
    with pytest.raises(TraceFormatError) as info:
        load_azure_trace(_write_bytes(tmp_path, text))
    assert (info.value.line, info.value.column) == (5, "GeneratedTokens")  # after the line break inside field 2


def test_malformed_quoting_is_located(tmp_path):
    text = HEADER + GOOD[0] + '\n2023-11-16 18:17:05,"12"x,3\n'
    with pytest.raises(TraceFormatError, match="malformed CSV") as info:
        load_azure_trace(_write_bytes(tmp_path, text))
    assert (info.value.line, info.value.column) == (3, "ContextTokens")
    text = HEADER + GOOD[0] + '\n2023-11-16 18:17:05,12,"3\n'  # a quoted field never closed
    with pytest.raises(TraceFormatError, match="not closed") as info:
        load_azure_trace(_write_bytes(tmp_path, text))
    assert (info.value.line, info.value.column) == (3, "GeneratedTokens")


def test_a_value_error_before_a_quoting_error_in_the_same_chunk_wins(tmp_path):
    text = HEADER + "2023-11-16 18:17:05,x,3\n" + '2023-11-16 18:17:05,"12"x,3\n'
    with pytest.raises(TraceFormatError, match="not a number") as info:
        load_azure_trace(_write_bytes(tmp_path, text))
    assert info.value.line == 2


def test_gzip_is_read_when_named_gz_and_rejected_otherwise(tmp_path):
    import gzip
    text = "\ufeff" + HEADER + "\r\n".join(GOOD) + "\r\n"
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    plain = load_azure_trace(_write_bytes(tmp_path, text))
    trace = load_azure_trace(gz)
    np.testing.assert_array_equal(trace.prompt_tokens, plain.prompt_tokens)
    np.testing.assert_array_equal(trace.arrival, plain.arrival)
    hidden = tmp_path / "t.csv"
    hidden.write_bytes(gz.read_bytes())
    with pytest.raises(TraceFormatError, match="gzip-compressed") as info:
        load_azure_trace(hidden)
    assert info.value.line == 1
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(gzip.compress((HEADER + GOOD[0] + "\n2023-11-16 18:17:05,1,x\n").encode()))
    with pytest.raises(TraceFormatError, match="not a number") as info:
        load_azure_trace(bad)
    assert (info.value.line, info.value.column) == (3, "GeneratedTokens")
    latin = tmp_path / "latin.csv.gz"
    latin.write_bytes(gzip.compress((HEADER + "2023-11-16 18:17:05,1\u00e9,3\n").encode("latin-1")))
    with pytest.raises(TraceFormatError, match="not valid UTF-8") as info:
        load_azure_trace(latin)
    assert (info.value.line, info.value.column) == (2, "ContextTokens")
    truncated = tmp_path / "trunc.csv.gz"
    truncated.write_bytes(gz.read_bytes()[:-12])
    with pytest.raises(TraceFormatError, match="gzip"):
        load_azure_trace(truncated)


def test_utf16_is_named(tmp_path):
    p = tmp_path / "u16.csv"
    p.write_bytes((HEADER + GOOD[0] + "\n").encode("utf-16"))
    with pytest.raises(TraceFormatError, match="UTF-16") as info:
        load_azure_trace(p)
    assert info.value.line == 1


def test_error_message_names_file_line_column_and_expectation(tmp_path):
    p = _write_bytes(tmp_path, HEADER + GOOD[0] + "\n2023-11-16 18:17:05,12,-3\n")
    with pytest.raises(TraceFormatError) as info:
        load_azure_trace(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: line 3, column GeneratedTokens: ") and "expected" in msg


def test_check_command(tmp_path, capsys):
    from repro.data.__main__ import main
    good = _write_bytes(tmp_path, HEADER + "\n".join(GOOD) + "\n", name="good.csv")
    assert main(["check", str(good)]) == 0
    assert "4 rows" in capsys.readouterr().out
    bad = _write_bytes(tmp_path, HEADER + GOOD[0] + "\n2023-11-16 18:17:05,12,-3\n", name="bad.csv")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "line 3, column GeneratedTokens" in err
    assert main(["check", str(tmp_path / "missing.csv")]) == 1


def test_malformed_header_and_nul_byte_are_located(tmp_path):
    with pytest.raises(TraceFormatError, match="malformed CSV") as info:
        load_azure_trace(_write_bytes(tmp_path, 'TIMESTAMP,"Context"Tokens,GeneratedTokens\n' + GOOD[0] + "\n"))
    assert (info.value.line, info.value.column) == (1, "field 2")
    with pytest.raises(TraceFormatError) as info:  # NUL: a csv error on Python < 3.11, a bad value after
        load_azure_trace(_write_bytes(tmp_path, HEADER + GOOD[0] + "\n" + GOOD[1] + "\n2023-11-16 18:17:05,1,\x00\n"))
    assert (info.value.line, info.value.column) == (4, "GeneratedTokens")
