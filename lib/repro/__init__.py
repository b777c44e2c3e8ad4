"""repro: reproductions of ten papers as a thin library of kernels.

Importing the package makes numba cache each kernel module's compiled code in a folder keyed by the
sources of the repro modules that module imports (:mod:`repro.core.numba_cache` says why numba's own
``cache=True`` needs this): an edit to a module a kernel does not import recompiles nothing. The base
folder is ``$REPRO_NUMBA_CACHE`` (default ``~/.cache/repro/numba``); ``python -m repro.tools.warm``
compiles every kernel once and prunes stale folders. Importing ``repro`` does not import numba.
"""
import os
import sys

__version__ = "0.1.0"

CACHE_LOCATOR = "repro.core.numba_cache.ReproModuleLocator"
"""The numba cache locator for repro's kernels, tried before numba's own."""

NUMBA_LOCATORS = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator",
                  "IPythonCacheLocator", "ZipCacheLocator")
"""numba's default locators (``numba.core.caching.CacheImpl._locator_classes``), for everything else."""


def _use_per_module_numba_cache() -> None:
    """Put :data:`CACHE_LOCATOR` first in numba's locator list (for numba imported now or later)."""
    current = os.environ.get("NUMBA_CACHE_LOCATOR_CLASSES") or ",".join(NUMBA_LOCATORS)
    if CACHE_LOCATOR not in current.split(","):
        os.environ["NUMBA_CACHE_LOCATOR_CLASSES"] = f"{CACHE_LOCATOR},{current}"
    if "numba" in sys.modules:  # numba read its configuration already; caches are located at decoration time
        sys.modules["numba"].config.CACHE_LOCATOR_CLASSES = os.environ["NUMBA_CACHE_LOCATOR_CLASSES"]


_use_per_module_numba_cache()
