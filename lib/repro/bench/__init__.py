"""Benchmarks: each module ``repro.bench.<name>`` exposes ``run(quick=False) -> dict``.

Every entry reports a kernel's rate and, measured in the same run on the same input, the rate of
its plain reference, with their ratio: machines are shared and noisy, ratios are what we compare.
"""
