"""`python -m repro.bench NAME [--quick] [--backend numpy|cupy]`: run one benchmark (or `all`) and print its JSON.

``--backend`` (pg only) adds the array-namespace rollout on that backend beside the numba kernel; a backend that
cannot run (``cupy`` without a GPU) stops with its error and exit status 2."""
import argparse
import importlib
import json
import pkgutil
import sys

import repro.bench
from repro.core import backend


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(repro.bench.__path__) if not m.name.startswith("_"))


def main(argv=None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m repro.bench", description=__doc__)
    parser.add_argument("name", choices=names + ["all"])
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks the benchmark runs, measures little")
    parser.add_argument("--backend", choices=backend.BACKENDS,
                        help="pg only: also time the array-namespace rollout on this backend")
    args = parser.parse_args(argv)
    if args.backend is not None:
        if args.name != "pg":
            parser.error("--backend applies to the pg benchmark only")
        try:
            backend.array_module(args.backend)
        except RuntimeError as error:
            print(f"python -m repro.bench: {error}", file=sys.stderr)
            return 2
    results = {}
    for name in names if args.name == "all" else [args.name]:
        options = {"backend": args.backend} if args.backend is not None else {}
        results[name] = importlib.import_module(f"repro.bench.{name}").run(quick=args.quick, **options)
    json.dump(results if args.name == "all" else results[args.name], sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
