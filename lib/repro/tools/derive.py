"""Regenerate the committed facts derived from the public data: ``python -m repro.tools.derive``.

Writes the token quantile and statistics tables of the Azure LLM inference trace 2023
(:func:`repro.traces.tokens.write_token_facts`, into ``lib/repro/traces/facts/``) and the latency
coefficients fitted to the SageServe profiling tables (:func:`repro.latency.write_latency_coefficients`,
``lib/repro/latency_coefficients.json``). The public files are read through :mod:`repro.data`
(``REPRO_DATA_MIRROR`` or ``python -m repro.data fetch NAME``); tests hold the committed files equal to
what this computes.
"""
from __future__ import annotations

import argparse
import sys

from repro.data import ChecksumError, DataUnavailableError
from repro.latency import write_latency_coefficients
from repro.traces.tokens import write_token_facts


def main(argv=None) -> int:
    argparse.ArgumentParser(prog="python -m repro.tools.derive", description=__doc__.split("\n\n")[0]).parse_args(argv)
    try:
        for written in [*write_token_facts(), write_latency_coefficients()]:
            print(f"wrote {written}")
    except (DataUnavailableError, ChecksumError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
