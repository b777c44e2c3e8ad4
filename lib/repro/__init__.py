"""repro: reproductions of ten papers as a thin library of kernels."""
__version__ = "0.1.0"
