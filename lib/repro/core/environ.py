"""Environment variables set for the duration of a block (and inherited by the processes started in it)."""
from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def scoped_environ(**variables: str):
    """Set ``variables`` in ``os.environ`` inside the block; afterwards each has its old value again, or is unset."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
