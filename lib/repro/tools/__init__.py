"""Command-line tools that sit above the library (DESIGN.md, "The library": tools/).

- :mod:`repro.tools.derive` (``python -m repro.tools.derive``): regenerate the committed facts derived
  from the public data (token quantile tables, latency coefficients).
"""
