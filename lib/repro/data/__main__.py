"""Command line: ``python -m repro.data {list, fetch NAME, check FILE, derive}``.

- list: the registered datasets, their files, licences and whether each file is available locally.
- fetch NAME: download (or copy from $REPRO_DATA_MIRROR) into data/NAME/, checksum-verified.
- check FILE: validate an Azure-format trace file; one summary line and exit 0, or the error and exit 1.
- derive: regenerate the committed derived facts (token quantiles, latency coefficients) from the data.
"""
from __future__ import annotations

import argparse
import sys

from repro.data.azure import TraceFormatError, load_azure_trace, summarize_trace
from repro.data.registry import DATASETS, ChecksumError, DataUnavailableError, fetch, path


def _list() -> int:
    for ds in DATASETS.values():
        print(f"{ds.name}  [{ds.licence}]  {ds.description}")
        print(f"    source: {ds.source}")
        for f in ds.files:
            try:
                where = str(path(ds.name, f.name))
            except (DataUnavailableError, ChecksumError) as exc:
                where = "not available" if isinstance(exc, DataUnavailableError) else f"CHECKSUM MISMATCH: {exc}"
            print(f"    {f.name}  sha256={f.sha256 or 'unpinned'}  {where}")
    return 0


def _fetch(name: str) -> int:
    try:
        for p in fetch(name):
            print(p)
    except (KeyError, OSError, ChecksumError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _check(file: str) -> int:
    try:
        trace = load_azure_trace(file)
    except (TraceFormatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{file}: {summarize_trace(trace)}")
    return 0


def _derive() -> int:
    from repro.latency import write_latency_coefficients
    from repro.traces.tokens import write_token_facts

    try:
        for p in [*write_token_facts(), write_latency_coefficients()]:
            print(f"wrote {p}")
    except (DataUnavailableError, ChecksumError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repro.data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="registered datasets and where their files are")
    p = sub.add_parser("fetch", help="download a dataset into data/NAME/")
    p.add_argument("name", choices=sorted(DATASETS))
    p = sub.add_parser("check", help="validate an Azure-format trace file")
    p.add_argument("file")
    sub.add_parser("derive", help="regenerate the committed derived facts from the data")
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "fetch":
        return _fetch(args.name)
    if args.command == "check":
        return _check(args.file)
    return _derive()


if __name__ == "__main__":
    sys.exit(main())
