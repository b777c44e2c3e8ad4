"""Command-line tools that sit above the library (DESIGN.md, "The library": tools/).

- :mod:`repro.tools.derive` (``python -m repro.tools.derive``): regenerate the committed facts derived
  from the public data (token quantile tables, latency coefficients).
- :mod:`repro.tools.warm` (``python -m repro.tools.warm``, run by the Makefile after install): compile every
  numba kernel once into the per-module cache and prune cache folders unused for a day.
"""
