"""Public datasets: registry (URL, sha256, licence; fetched with pooch, or read from a mirror) and validating
loaders (DESIGN.md "Data policy"; the Azure LLM trace loader serves briefs 01, 02 and 03).

Imports only :mod:`repro.core` (the :class:`~repro.core.trace.Trace` layout the loaders fill): the
generators (:mod:`repro.traces`) and the latency model (:mod:`repro.latency`) import this package, never
the other way round."""
from repro.data.azure import (COLUMNS, TraceFormatError, TraceOrderWarning, TraceValueWarning, load_azure_trace,
                              read_azure_trace, summarize_trace)
from repro.data.registry import (DATASETS, MIRROR_ENV, ChecksumError, DataFile, DataUnavailableError, Dataset,
                                 available, data_dir, dataset, fetch, mirror_dir, path, repo_root, sha256_of)

__all__ = [
    "COLUMNS", "DATASETS", "MIRROR_ENV", "ChecksumError", "DataFile", "DataUnavailableError", "Dataset",
    "TraceFormatError", "TraceOrderWarning", "TraceValueWarning", "available", "data_dir", "dataset", "fetch",
    "load_azure_trace", "mirror_dir", "path", "read_azure_trace", "repo_root", "sha256_of", "summarize_trace",
]
